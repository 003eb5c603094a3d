package openai

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/sse"
	"github.com/polydev/polydev/internal/testkit"
)

// meterStream feeds a recorded or live event stream to m and reports the event index at which it
// completed (-1 for never) and the first in-stream error.
func meterStream(t testing.TB, m provider.Meter, body io.Reader) (int, error) {
	t.Helper()
	rd := sse.NewReader(body, 0)
	completeAt, i := -1, 0
	var first error
	for ; ; i++ {
		ev, err := rd.Next()
		if err == io.EOF {
			return completeAt, first
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Event(ev); err != nil && first == nil {
			first = err
		}
		if m.Complete() && completeAt < 0 {
			completeAt = i
		}
	}
}

// TestResponsesPassthrough: SendRaw posts the body as written to /responses with the Bearer key and
// the openai-beta header only; the meter reads the same usage from the whole answer and the stream,
// complete at response.completed.
func TestResponsesPassthrough(t *testing.T) {
	t.Parallel()
	up := testkit.NewOpenAI(t)
	want := llm.Usage{InputTokens: 1536, CacheReadTokens: 1024, OutputTokens: 96, ReasoningTokens: 64}
	body := `{"model":"gpt-4o-mini","input":"hi","store":false,"stream":true}`
	h := http.Header{"Openai-Beta": {"responses=v1"}, "Authorization": {"Bearer pd_client"}, "Cookie": {"x=y"}}
	p := &Provider{}
	rq := &provider.RawRequest{Op: OpResponses, Body: []byte(body), Header: h, Stream: true}
	resp, err := p.SendRaw(t.Context(), up.Client(), provider.Target{BaseURL: up.BaseURL(), APIKey: up.Key}, rq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := up.LastRequest()
	if got.Path != "/v1/responses" || string(got.Body) != body || got.Key != up.Key || got.Header.Get("Openai-Beta") != "responses=v1" || got.Header.Get("Cookie") != "" {
		t.Fatalf("upstream got %s %s key %q headers %v", got.Path, got.Body, got.Key, got.Header)
	}
	m := p.Meter(rq)
	at, err := meterStream(t, m, resp.Body)
	if err != nil || at < 0 || m.Usage() != want {
		t.Fatalf("stream: complete at %d, usage %+v, err %v", at, m.Usage(), err)
	}
	events, _ := testkit.ParseSSE(testkit.Payload("openai/responses_stream_text.sse"))
	if at != len(events)-1 {
		t.Fatalf("complete at event %d of %d", at, len(events))
	}

	m = p.Meter(rq)
	if err := m.Body(testkit.Payload("openai/responses_function_call.json")); err != nil || !m.Complete() || m.Usage() != want {
		t.Fatalf("body: usage %+v err %v", m.Usage(), err)
	}

	// Unknown operations and upstream errors.
	if _, err := p.SendRaw(t.Context(), up.Client(), provider.Target{BaseURL: up.BaseURL(), APIKey: up.Key}, &provider.RawRequest{Op: "chat"}); err == nil {
		t.Fatal("an unknown op was sent")
	}
	_, err = p.SendRaw(t.Context(), up.Client(), provider.Target{BaseURL: up.BaseURL(), APIKey: "sk-wrong-key-0000000000"}, rq)
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrAuth || strings.Contains(e.Message, "sk-wrong-key-0000000000") {
		t.Fatalf("wrong key: %v", err)
	}
}

func TestResponsesMeterFailures(t *testing.T) {
	t.Parallel()
	// response.failed: the error, with usage as far as known, not complete.
	m := (&Provider{}).Meter(&provider.RawRequest{Op: OpResponses, Body: []byte(`{"model":"m","input":"hi"}`)})
	at, err := meterStream(t, m, bytes.NewReader(testkit.Payload("openai/responses_stream_failed.sse")))
	e, ok := llm.AsError(err)
	if !ok || e.Kind != llm.ErrServer || !e.InStream || at >= 0 || !m.Usage().Partial || !m.Usage().OutputEstimated || m.Usage().OutputTokens == 0 {
		t.Fatalf("failed: %v at %d usage %+v", err, at, m.Usage())
	}
	// A cut stream: partial, estimated from the deltas that came.
	m = (&Provider{}).Meter(&provider.RawRequest{Op: OpResponses, Body: make([]byte, 400)})
	cut := testkit.Payload("openai/responses_stream_text.sse")
	cut = cut[:bytes.Index(cut, []byte("event: response.output_text.done"))]
	if at, err := meterStream(t, m, bytes.NewReader(cut)); at >= 0 || err != nil {
		t.Fatalf("cut: %d %v", at, err)
	}
	if u := m.Usage(); !u.Partial || u.InputTokens != 100 || u.OutputTokens != llm.EstimateTokens(len(testkit.DefaultText)) {
		t.Fatalf("cut usage %+v", u)
	}
	// Hostile numbers are bounded.
	m = (&Provider{}).Meter(&provider.RawRequest{Op: OpResponses})
	_ = m.Body([]byte(`{"usage":{"input_tokens":-5,"input_tokens_details":{"cached_tokens":99},"output_tokens":1000000000000000,"output_tokens_details":{"reasoning_tokens":-1}}}`))
	if u := m.Usage(); u.InputTokens != 0 || u.CacheReadTokens != 0 || u.OutputTokens != maxTokens || u.ReasoningTokens != 0 {
		t.Fatalf("bounded usage %+v", u)
	}
	// An error event names its code.
	m = (&Provider{}).Meter(&provider.RawRequest{Op: OpResponses})
	_, err = m.Event(sse.Event{Type: "error", Data: []byte(`{"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null,"sequence_number":3}`)})
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrRateLimit || e.Message != "slow down" {
		t.Fatalf("error event: %v", err)
	}
}

// FuzzResponsesMeter: any event stream or body is metered without a panic, and the usage is
// bounded, non-negative and consistent (cache reads within input, reasoning within output).
func FuzzResponsesMeter(f *testing.F) {
	for _, name := range testkit.PayloadNames(testkit.OpenAI) {
		if strings.Contains(name, "responses") {
			f.Add(testkit.Payload(name))
		}
	}
	f.Add([]byte("event: response.completed\ndata: {\"response\":{\"usage\":{\"input_tokens\":1,\"output_tokens\":2}}}\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, body := range []bool{false, true} {
			m := (&Provider{}).Meter(&provider.RawRequest{Op: OpResponses, Body: b})
			if body {
				_ = m.Body(b)
			} else {
				rd := sse.NewReader(bytes.NewReader(b), 1<<16)
				for {
					ev, err := rd.Next()
					if err != nil {
						break
					}
					_, _ = m.Event(ev)
				}
			}
			u := m.Usage()
			if u.InputTokens < 0 || u.OutputTokens < 0 || u.CacheReadTokens < 0 || u.ReasoningTokens < 0 ||
				u.CacheReadTokens > u.InputTokens || u.ReasoningTokens > u.OutputTokens || u.InputTokens > maxTokens || u.OutputTokens > maxTokens+llm.EstimateTokens(len(b)) {
				t.Fatalf("usage %+v", u)
			}
		}
	})
}
