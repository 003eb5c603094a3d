package anthropic

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/providertest"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/internal/testkit"
)

func TestWireRequest(t *testing.T) {
	t.Parallel()
	u := testkit.NewAnthropic(t)
	p := &Provider{}
	req := providertest.Body(t, u, func() error {
		_, err := p.Do(t.Context(), u.Client(), providertest.Target(u), providertest.Conversation("claude-sonnet-4-5"))
		return err
	})
	if req.Path != "/v1/messages" || req.Header.Get("X-Api-Key") != u.Key || req.Header.Get("Anthropic-Version") != "2023-06-01" || req.Header.Get("Authorization") != "" {
		t.Errorf("request %s headers %v", req.Path, req.Header)
	}
	// max_tokens defaults to 4096; temperature is clamped to Anthropic's 0..1; the tool result and
	// the next user text share one user turn, result first.
	providertest.AssertJSON(t, req.Body, `{
		"model":"claude-sonnet-4-5","max_tokens":4096,"system":"Be brief.",
		"messages":[
			{"role":"user","content":[{"type":"text","text":"Weather here?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},
			{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"call_1","name":"get_weather","input":{"location":"Paris"}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":[{"type":"text","text":"18C, sunny"}]},{"type":"text","text":"Thanks"}]}
		],
		"tools":[{"name":"get_weather","description":"Current weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}}}}],
		"tool_choice":{"type":"tool","name":"get_weather"},
		"temperature":1,"top_p":0.9,"stop_sequences":["END"],"metadata":{"user_id":"user-42"}
	}`)
	// A request's own max_tokens wins; the provider's default can be changed.
	r := providertest.Request("claude")
	r.MaxTokens = 99
	body, _ := encodeRequest(r, true, DefaultMaxTokens)
	if !bytes.Contains(body, []byte(`"max_tokens":99`)) || !bytes.Contains(body, []byte(`"stream":true`)) {
		t.Errorf("body %s", body)
	}
}

func bodyStream(b []byte) *upstream.Stream {
	return upstream.NewBodyStream(context.Background(), upstream.Call{Provider: Name}, io.NopCloser(bytes.NewReader(b)), &decoder{}, 400)
}

func TestRecordedStreams(t *testing.T) {
	t.Parallel()
	want := expect(testkit.DefaultUsage)
	got := providertest.Collect(t, bodyStream(testkit.Payload("anthropic/messages_stream_tool_use.sse")))
	if got.Err != nil || len(got.Calls) != 1 || got.Calls[0].ID != "toolu_01Testkit00000000000001" || got.Stop != llm.StopToolUse || got.Usage != want ||
		!providertest.JSONEqual(string(got.Calls[0].Arguments), `{"location":"Paris, France","unit":"celsius"}`) {
		t.Errorf("tool stream: %+v", got)
	}
	if got.Events[0].Usage.InputTokens != 1536 || got.Events[0].Usage.CacheReadTokens != 1024 || got.Events[0].ID != "msg_01TestkitAnthropic000001" {
		t.Errorf("start event %+v", got.Events[0])
	}
	s := bodyStream(testkit.Payload("anthropic/messages_stream_overloaded.sse"))
	got = providertest.Collect(t, s)
	e, ok := llm.AsError(got.Err)
	if !ok || e.Kind != llm.ErrOverloaded || e.Type != "overloaded_error" || !e.InStream || got.Text != "Hello! How can " {
		t.Errorf("overloaded: %+v", got)
	}
	// Partial usage: the input side from message_start, the output estimated and flagged.
	us := s.Usage()
	if us.InputTokens != 1536 || us.CacheReadTokens != 1024 || us.InputEstimated || !us.OutputEstimated || !us.Partial || us.OutputTokens != llm.EstimateTokens(len("Hello! How can ")) {
		t.Errorf("partial usage %+v", us)
	}
}

// TestCutAfterMessageDelta: once the cumulative output count arrived, a cut loses nothing.
func TestCutAfterMessageDelta(t *testing.T) {
	t.Parallel()
	full := testkit.Payload("anthropic/messages_stream_text.sse")
	cut := full[:bytes.Index(full, []byte("event: message_stop"))]
	got := providertest.Collect(t, bodyStream(cut))
	if got.Err != nil || got.Usage.OutputTokens != 96 || got.Usage.OutputEstimated || got.Stop != llm.StopEndTurn {
		t.Errorf("got %+v", got)
	}
	// Cut before it: partial, estimated, and an error.
	cut = full[:bytes.Index(full, []byte("event: message_delta"))]
	s := bodyStream(cut)
	got = providertest.Collect(t, s)
	if e, ok := llm.AsError(got.Err); !ok || e.Kind != llm.ErrNetwork || !s.Usage().OutputEstimated || !s.Usage().Partial {
		t.Errorf("got %+v usage %+v", got, s.Usage())
	}
}

// TestCancelPartialUsage: input tokens from message_start survive a client cancel.
func TestCancelPartialUsage(t *testing.T) {
	t.Parallel()
	u := testkit.NewAnthropic(t, testkit.WithScript(testkit.Script{Text: "one two three four five six seven", Usage: testkit.DefaultUsage}), testkit.WithTokenDelay(20*time.Millisecond))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, err := (&Provider{}).Stream(ctx, u.Client(), providertest.Target(u), providertest.Request("claude"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for {
		ev, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == llm.EventText {
			break
		}
	}
	cancel()
	for {
		if _, err := s.Next(); err != nil {
			break
		}
	}
	us := s.Usage()
	if us.InputTokens != 1536 || us.InputEstimated || !us.OutputEstimated || !us.Partial || us.OutputTokens < 1 {
		t.Errorf("usage %+v", us)
	}
}

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	cases := map[string]llm.ErrorKind{
		`{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}`: llm.ErrQuota,
		`{"type":"error","error":{"type":"invalid_request_error","message":"messages: Field required"}}`:                                    llm.ErrInvalidRequest,
		`not json`: llm.ErrInvalidRequest,
	}
	for body, want := range cases {
		e := call(nil, provider.Target{}).HTTPError(400, nil, []byte(body))
		if e.Kind != want || e.Message == "" {
			t.Errorf("%s: %+v", body, e)
		}
	}
}

func FuzzStreamDecoder(f *testing.F) {
	for _, name := range testkit.PayloadNames(testkit.Anthropic) {
		f.Add(testkit.Payload(name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		providertest.FuzzDecoder(t, bodyStream(b))
	})
}
