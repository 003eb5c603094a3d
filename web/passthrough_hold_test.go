package web

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// TestAnthropicPassthroughErrorBeforeContent: an upstream that answers 200, sends message_start and
// then `event: error` overloaded_error (how Anthropic reports overload in a stream) fails over to
// the next key as an error status would: the client gets one clean stream, from the second key,
// with no trace of the first attempt (message_start was held until the first content event). When
// every key does it, the client gets Anthropic's overloaded error as a plain HTTP error, not a
// stream it has to pick apart.
func TestAnthropicPassthroughErrorBeforeContent(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	overloaded := testkit.DefaultScript()
	overloaded.StreamError = &testkit.StreamError{BeforeContent: true}
	up := testkit.NewAnthropic(t, testkit.WithKey("sk-ant-good-1", "sk-ant-busy-1"), testkit.WithKeyScript("sk-ant-busy-1", overloaded))
	admin := e.signup("hold-admin@example.com", pw)
	e.makeAdmin("hold-admin@example.com")
	var busy, good keyResp
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "anthropic", "apiKey": "sk-ant-busy-1", "baseUrl": up.BaseURL(), "priorityOrder": 0}, "Cookie", admin), 201).json(t, &busy)
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "anthropic", "apiKey": "sk-ant-good-1", "baseUrl": up.BaseURL(), "priorityOrder": 1}, "Cookie", admin), 201).json(t, &good)
	token, u := e.apiUser("hold@example.com", polydev.TierFree)
	body := strings.Replace(claudeCodeBody, `"max_tokens"`, `"stream":true,"max_tokens"`, 1)

	r := e.want(e.do("POST", "/v1/messages", body, "x-api-key", token), http.StatusOK)
	if up.RequestCount() != 2 {
		t.Fatalf("upstream saw %d requests, want 2 (overloaded after message_start, then success)", up.RequestCount())
	}
	direct := directAnthropic(t, up, strings.Replace(body, `"anthropic/claude-haiku-4-5"`, `"claude-haiku-4-5"`, 1), "")
	if !bytes.Equal(r.body, direct) || bytes.Count(r.body, []byte("event: message_start")) != 1 || bytes.Contains(r.body, []byte("overloaded")) {
		t.Fatalf("client got\n%s\nwant the second key's stream\n%s", r.body, direct)
	}
	recs := e.usageOf(u)
	if len(recs) != 1 || recs[0].KeyID != good.Key.ID || recs[0].Status != polydev.UsageOK || recs[0].OutputTokens != int64(testkit.DefaultUsage.CompletionTokens) {
		t.Fatalf("records = %+v, want one complete record on the good key", recs)
	}

	t.Run("every key overloaded", func(t *testing.T) {
		up.SetScript(overloaded)
		n := up.RequestCount()
		r := e.do("POST", "/v1/messages", body, "x-api-key", token)
		if r.status != 529 || !strings.Contains(string(r.body), `"type":"overloaded_error"`) || strings.Contains(string(r.body), "message_start") {
			t.Fatalf("status %d body %s", r.status, r.body)
		}
		if up.RequestCount() != n+2 {
			t.Fatalf("%d upstream requests, want both keys tried", up.RequestCount()-n)
		}
		if r.header.Get("Content-Type") == "text/event-stream" {
			t.Fatal("an error status was sent as a stream")
		}
	})
}
