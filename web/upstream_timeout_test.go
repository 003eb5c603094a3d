package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/netguard"
)

// shortWaits are the upstream wait bounds of these tests: short, so a hanging fake is given up
// on quickly, and long enough for a fake that answers at once on a loaded machine.
var shortWaits = router.Timeouts{FirstByte: 2 * time.Second, Idle: 2 * time.Second}

// waitSurfaces are the stream surfaces the wait tests cover: each inbound shape, once passed
// through to its own provider and once translated to the other.
var waitSurfaces = []struct{ name, path, model string }{
	{"chat-passthrough", "/v1/chat/completions", "openai/gpt-4o-mini"},
	{"chat-translated", "/v1/chat/completions", "anthropic/claude-haiku-4-5"},
	{"messages-passthrough", "/v1/messages", "anthropic/claude-haiku-4-5"},
	{"messages-translated", "/v1/messages", "openai/gpt-4o-mini"},
}

// gwCall posts body to path with token, bounded by a generous deadline (a hang fails the test
// instead of stalling it), and returns the status and the whole body.
func (e *env) gwCall(path, token, body string) (int, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), time.Minute)
	defer cancel()
	res := e.gwRequest(ctx, path, token, body)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s: reading the answer: %v", path, err)
	}
	return res.StatusCode, string(b)
}

// TestUpstreamTimeouts: on every surface, translated and passthrough, an upstream that sends
// nothing ends with a timeout error in the surface's own shape once the first-byte bound passes,
// streamed or not; a stream that stalls mid-answer is cut after the idle bound, the client gets
// what was produced and an error event, and the call is billed with estimated usage.
func TestUpstreamTimeouts(t *testing.T) {
	for _, c := range waitSurfaces {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := gatewayEnv(t, "sqlite")
			e.srv.router.Timeouts = shortWaits
			hang := testkit.Script{Text: "never sent", FirstByteLatency: time.Hour}
			stall := testkit.Script{Text: "alpha beta gamma delta epsilon", StallAfterDeltas: 2, Usage: testkit.Usage{PromptTokens: 9, CompletionTokens: 5}}
			e.platformFakes(testkit.WithQueue(hang, hang, stall))
			token, u := e.apiUser("wait@example.com", polydev.TierFree)
			anthropicShape := c.path == "/v1/messages"
			req := `{"model":"` + c.model + `","max_tokens":50,"messages":[{"role":"user","content":"hi"}]`

			for _, stream := range []string{"", `,"stream":true`} {
				status, body := e.gwCall(c.path, token, req+stream+"}")
				if status != http.StatusGatewayTimeout || !strings.Contains(body, "sent nothing within") ||
					anthropicShape != strings.Contains(body, `"type":"error"`) || !strings.Contains(body, `"error":{`) {
					t.Fatalf("hanging upstream (stream=%v): %d %s", stream != "", status, body)
				}
			}

			status, body := e.gwCall(c.path, token, req+`,"stream":true}`)
			errEvent := `data: {"error":`
			if anthropicShape {
				errEvent = "event: error\n"
			}
			if status != http.StatusOK || !strings.Contains(body, "alpha") || strings.Contains(body, "gamma") ||
				!strings.Contains(body, errEvent) || !strings.Contains(body, "stalled") {
				t.Fatalf("stalled stream: %d %s", status, body)
			}
			recs := e.usageOf(u)
			if len(recs) != 3 {
				t.Fatalf("%d usage records, want 3", len(recs))
			}
			last := recs[0]
			if last.Status != polydev.UsageError || last.OutputTokens <= 0 || !last.Estimated || last.KeyID == "" {
				t.Fatalf("stalled stream's record: %+v", last)
			}
			for _, r := range recs[1:] {
				if r.Status != polydev.UsageError || r.HTTPStatus != http.StatusGatewayTimeout || r.Cost != 0 {
					t.Fatalf("hanging upstream's record: %+v", r)
				}
			}
		})
	}
}

// TestFirstByteTimeoutFailsOver: a key whose upstream never answers is given up on after the
// first-byte bound, before anything reached the client, and the next key serves the request.
func TestFirstByteTimeoutFailsOver(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	e.srv.router.Timeouts = shortWaits
	const hangingKey = "sk-hanging-000001"
	up := testkit.NewOpenAI(t, testkit.WithKeyScript(hangingKey, testkit.Script{Text: "never", FirstByteLatency: time.Hour}),
		testkit.WithScript(testkit.Script{Text: "from the second key", Usage: testkit.Usage{PromptTokens: 4, CompletionTokens: 4}}))
	admin := e.signup("admin@example.com", pw)
	e.makeAdmin("admin@example.com")
	for i, key := range []string{hangingKey, up.Key} {
		e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": key, "baseUrl": up.BaseURL(), "priorityOrder": i}, "Cookie", admin), http.StatusCreated)
	}
	token, _ := e.apiUser("failover@example.com", polydev.TierFree)
	for _, stream := range []string{"", `,"stream":true`} {
		// /v1/messages translates to OpenAI; /v1/chat/completions passes through.
		for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
			status, body := e.gwCall(path, token, `{"model":"openai/gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"hi"}]`+stream+`}`)
			if status != http.StatusOK || !strings.Contains(body, "second") {
				t.Fatalf("%s (stream=%v): %d %s", path, stream != "", status, body)
			}
		}
	}
	if !strings.Contains(e.logs.String(), `"kind":"timeout"`) {
		t.Fatal("the timed-out key is not in the failover log")
	}
}

// TestHeartbeatWhileUpstreamWaits: a stream whose upstream is slow to answer at all is committed
// after a heartbeat interval and kept alive with the surface's own keep-alive (Anthropic's ping
// event on /v1/messages, an SSE comment on OpenAI's shape); a slow upstream then streams its
// answer normally, and one that never answers ends, after the first-byte bound, with an error
// event in the surface's shape.
func TestHeartbeatWhileUpstreamWaits(t *testing.T) {
	for _, c := range waitSurfaces {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "sqlite", Config{StreamHeartbeat: 20 * time.Millisecond, LoginBurst: 100})
			guard, err := netguard.ParseAllowList("127.0.0.0/8")
			if err != nil {
				t.Fatal(err)
			}
			e.srv.keys.Guard = guard
			e.srv.router.Timeouts = shortWaits
			slow := testkit.Script{Text: "finally here", FirstByteLatency: 300 * time.Millisecond, Usage: testkit.Usage{PromptTokens: 5, CompletionTokens: 2}}
			hang := testkit.Script{Text: "never sent", FirstByteLatency: time.Hour}
			e.platformFakes(testkit.WithQueue(slow, hang))
			token, u := e.apiUser("hb-wait@example.com", polydev.TierFree)
			anthropicShape := c.path == "/v1/messages"
			ping, errEvent := ": ping\n\n", `data: {"error":`
			if anthropicShape {
				ping, errEvent = "event: ping\ndata: {\"type\": \"ping\"}\n\n", "event: error\n"
			}
			req := `{"model":"` + c.model + `","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}`

			status, body := e.gwCall(c.path, token, req)
			if status != http.StatusOK || !strings.HasPrefix(body, ping) || !strings.Contains(body, "finally") || strings.Contains(body, errEvent) {
				t.Fatalf("slow upstream: %d %q", status, body)
			}
			status, body = e.gwCall(c.path, token, req)
			if status != http.StatusOK || !strings.HasPrefix(body, ping) || !strings.Contains(body, errEvent) || !strings.Contains(body, "sent nothing within") {
				t.Fatalf("hanging upstream: %d %q", status, body)
			}
			recs := e.usageOf(u)
			if len(recs) != 2 || recs[0].Status != polydev.UsageError || recs[1].Status != polydev.UsageOK {
				t.Fatalf("usage records: %+v", recs)
			}
		})
	}
}
