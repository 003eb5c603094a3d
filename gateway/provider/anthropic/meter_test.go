package anthropic

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/sse"
	"github.com/polydev/polydev/internal/testkit"
)

// sendRaw posts body through SendRaw to the fake and returns the open answer.
func sendRaw(t *testing.T, up *testkit.Upstream, op, body string, stream bool, h http.Header) *http.Response {
	t.Helper()
	p := &Provider{}
	resp, err := p.SendRaw(t.Context(), http.DefaultClient, provider.Target{BaseURL: up.URL, APIKey: up.Key},
		&provider.RawRequest{Op: op, Body: []byte(body), Header: h, Stream: stream})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestMeterStreamAndBody(t *testing.T) {
	t.Parallel()
	s := testkit.Script{Text: "one two three", Chunks: 3, Usage: testkit.Usage{PromptTokens: 5000, CompletionTokens: 42, CachedTokens: 3000, CacheWriteTokens: 1500, WebSearches: 2}}
	up := testkit.NewAnthropic(t, testkit.WithScript(s))
	want := llm.Usage{InputTokens: 5000, OutputTokens: 42, CacheReadTokens: 3000, CacheWriteTokens: 1500, WebSearches: 2}
	body := `{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`

	resp := sendRaw(t, up, OpMessages, body, false, nil)
	b, _ := io.ReadAll(resp.Body)
	m := (&Provider{}).Meter(&provider.RawRequest{Op: OpMessages, Body: []byte(body)})
	if err := m.Body(b); err != nil || !m.Complete() || m.Usage() != want {
		t.Fatalf("body: usage %+v complete %v err %v", m.Usage(), m.Complete(), err)
	}

	resp = sendRaw(t, up, OpMessages, strings.Replace(body, `{`, `{"stream":true,`, 1), true, nil)
	m = (&Provider{}).Meter(&provider.RawRequest{Op: OpMessages, Body: []byte(body)})
	rd := sse.NewReader(resp.Body, 0)
	var completeAt string
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		was := m.Complete()
		if relay, err := m.Event(ev); !relay || err != nil {
			t.Fatalf("%s: relay %v err %v", ev.Type, relay, err)
		}
		if !was && m.Complete() {
			completeAt = ev.Type
		}
		if !m.Complete() && !m.Usage().Partial {
			t.Fatalf("usage before the end is not partial")
		}
	}
	if completeAt != "message_stop" || m.Usage() != want {
		t.Fatalf("stream: usage %+v, complete at %q", m.Usage(), completeAt)
	}
}

// A stream cut after some text is billed for the input reported and an estimate of the output.
func TestMeterPartial(t *testing.T) {
	t.Parallel()
	m := &meter{reqBytes: 400}
	for _, ev := range []sse.Event{
		{Type: "message_start", Data: []byte(`{"type":"message_start","message":{"id":"m","usage":{"input_tokens":10,"cache_read_input_tokens":90,"output_tokens":1}}}`)},
		{Type: "content_block_delta", Data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"` + strings.Repeat("a", 400) + `"}}`)},
	} {
		if _, err := m.Event(ev); err != nil {
			t.Fatal(err)
		}
	}
	u := m.Usage()
	if m.Complete() || !u.Partial || u.InputTokens != 100 || u.CacheReadTokens != 90 || u.OutputTokens != 100 || !u.OutputEstimated || u.InputEstimated {
		t.Fatalf("%+v", u)
	}
	_, err := m.Event(sse.Event{Type: "error", Data: []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)})
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrOverloaded {
		t.Fatalf("error event: %v", err)
	}
}

func TestSendRawHeaders(t *testing.T) {
	t.Parallel()
	up := testkit.NewAnthropic(t)
	body := `{"model":"claude-haiku-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`
	h := http.Header{"Anthropic-Beta": {"prompt-caching-2024-07-31,context-management-2025-06-27"}, "Authorization": {"Bearer pd_secret"}, "X-Api-Key": {"pd_secret"}, "Cookie": {"a=b"}}
	sendRaw(t, up, OpMessages, body, false, h)
	got := up.LastRequest()
	if string(got.Body) != body || got.Header.Get("Anthropic-Beta") != h.Get("Anthropic-Beta") || got.Header.Get("Anthropic-Version") != Version ||
		got.Key != up.Key || got.Header.Get("Authorization") != "" || got.Header.Get("Cookie") != "" {
		t.Fatalf("upstream got %v %s", got.Header, got.Body)
	}
	sendRaw(t, up, OpMessages, body, false, http.Header{"Anthropic-Version": {"2023-01-01"}})
	if v := up.LastRequest().Header.Values("Anthropic-Version"); len(v) != 1 || v[0] != "2023-01-01" {
		t.Fatalf("version = %v", v)
	}
	_, err := (&Provider{}).SendRaw(t.Context(), http.DefaultClient, provider.Target{BaseURL: up.URL, APIKey: "sk-ant-wrong"}, &provider.RawRequest{Op: OpMessages, Body: []byte(body)})
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrAuth || !e.Failover() {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := (&Provider{}).SendRaw(t.Context(), http.DefaultClient, provider.Target{BaseURL: up.URL}, &provider.RawRequest{Op: "files"}); err == nil {
		t.Fatal("unknown op accepted")
	}
}

// TestTranslatedWebSearches: the translated path reads usage.server_tool_use.web_search_requests
// too, from a whole answer and from a stream's final message_delta.
func TestTranslatedWebSearches(t *testing.T) {
	t.Parallel()
	s := testkit.DefaultScript()
	s.Usage.WebSearches = 3
	up := testkit.NewAnthropic(t, testkit.WithScript(s))
	p, target := &Provider{}, provider.Target{BaseURL: up.URL, APIKey: up.Key}
	req := &llm.Request{Model: "claude-haiku-4-5", MaxTokens: 100, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("hi")}}}}
	resp, err := p.Do(t.Context(), http.DefaultClient, target, req)
	if err != nil || resp.Usage.WebSearches != 3 {
		t.Fatalf("Do: usage %+v err %v", resp.Usage, err)
	}
	req.Stream = true
	st, err := p.Stream(t.Context(), http.DefaultClient, target, req)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for {
		if _, err := st.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if u := st.Usage(); u.WebSearches != 3 || u.OutputTokens != s.Usage.CompletionTokens {
		t.Fatalf("Stream: usage %+v", u)
	}
}
