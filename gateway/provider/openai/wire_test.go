package openai

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/providertest"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/internal/testkit"
)

func TestWireRequest(t *testing.T) {
	t.Parallel()
	u := testkit.NewOpenAI(t)
	p := &Provider{}
	req := providertest.Body(t, u, func() error {
		s, err := p.Stream(t.Context(), u.Client(), providertest.Target(u), providertest.Conversation("gpt-4o-mini"))
		if err == nil {
			providertest.Collect(t, s)
			s.Close()
		}
		return err
	})
	if req.Path != "/v1/chat/completions" || req.Header.Get("Authorization") != "Bearer "+u.Key || req.RawQuery != "" {
		t.Errorf("request %s?%s auth %q", req.Path, req.RawQuery, req.Header.Get("Authorization"))
	}
	providertest.AssertJSON(t, req.Body, `{
		"model":"gpt-4o-mini",
		"messages":[
			{"role":"system","content":"Be brief."},
			{"role":"user","content":[{"type":"text","text":"Weather here?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},
			{"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
			{"role":"tool","content":"18C, sunny","tool_call_id":"call_1"},
			{"role":"user","content":"Thanks"}
		],
		"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather","parameters":{"type":"object","properties":{"location":{"type":"string"}}}}}],
		"tool_choice":{"type":"function","function":{"name":"get_weather"}},
		"temperature":1.5,"top_p":0.9,"stop":["END"],"user":"user-42",
		"stream":true,"stream_options":{"include_usage":true}
	}`)
}

func TestMaxTokensField(t *testing.T) {
	t.Parallel()
	r := &llm.Request{Model: "m", MaxTokens: 77}
	for _, c := range []struct {
		p    Provider
		base string
		want string
	}{
		{Provider{}, "https://api.openai.com/v1", `{"model":"m","messages":[],"max_completion_tokens":77}`},
		{Provider{}, "http://127.0.0.1:11434/v1", `{"model":"m","messages":[],"max_tokens":77}`},
		{Provider{MaxTokensField: "max_completion_tokens"}, "http://vllm:8000/v1", `{"model":"m","messages":[],"max_completion_tokens":77}`},
	} {
		body, err := encodeRequest(r, false, c.p.maxTokensField(c.base))
		if err != nil {
			t.Fatal(err)
		}
		providertest.AssertJSON(t, body, c.want)
	}
}

// TestNoKey: a local server without auth gets no Authorization header at all.
func TestNoKey(t *testing.T) {
	t.Parallel()
	u := testkit.NewOpenAI(t, testkit.WithAnyKey())
	_, err := (&Provider{}).Do(t.Context(), u.Client(), provider.Target{BaseURL: u.BaseURL()}, providertest.Request("llama3"))
	if err != nil {
		t.Fatal(err)
	}
	if h := u.LastRequest().Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization %q", h)
	}
}

func bodyStream(b []byte) llm.Stream {
	return upstream.NewBodyStream(context.Background(), upstream.Call{Provider: Name}, io.NopCloser(bytes.NewReader(b)), &decoder{}, 400)
}

// TestStreamWithoutUsage is an OpenAI-compatible server that ignores include_usage: the stream
// completes, and usage is estimated and flagged, not zero.
func TestStreamWithoutUsage(t *testing.T) {
	t.Parallel()
	got := providertest.Collect(t, bodyStream(testkit.Payload("openai/chat_stream_text_no_usage.sse")))
	u := got.Usage
	if got.Err != nil || got.Text != testkit.DefaultText || u.Partial || !u.InputEstimated || !u.OutputEstimated ||
		u.InputTokens != llm.EstimateTokens(400) || u.OutputTokens != llm.EstimateTokens(len(testkit.DefaultText)) {
		t.Errorf("got %+v", got)
	}
}

func TestRecordedStreams(t *testing.T) {
	t.Parallel()
	got := providertest.Collect(t, bodyStream(testkit.Payload("openai/chat_stream_tool_call.sse")))
	if got.Err != nil || len(got.Calls) != 1 || got.Calls[0].ID != "call_testkit0001" || got.Calls[0].Name != "get_weather" ||
		!providertest.JSONEqual(string(got.Calls[0].Arguments), `{"location":"Paris, France","unit":"celsius"}`) || got.Stop != llm.StopToolUse {
		t.Errorf("tool call stream: %+v", got)
	}
	got = providertest.Collect(t, bodyStream(testkit.Payload("openai/chat_stream_error.sse")))
	if e, ok := llm.AsError(got.Err); !ok || e.Type != "server_error" || got.Text != "Hello! How can " {
		t.Errorf("error stream: %+v", got)
	}
}

func FuzzStreamDecoder(f *testing.F) {
	for _, name := range testkit.PayloadNames(testkit.OpenAI) {
		f.Add(testkit.Payload(name))
	}
	f.Add([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":3,\"function\":{\"arguments\":\"x\"}}]}}]}\n\ndata: [DONE]\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		providertest.FuzzDecoder(t, bodyStream(b))
	})
}
