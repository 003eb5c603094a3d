package openai

import (
	"bytes"
	"slices"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/sse"
)

func TestChatBody(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body   string
		stream bool
		want   string
	}{
		{`{"model":"m","stream":true}`, true, `{"stream_options":{"include_usage":true},"model":"m","stream":true}`},
		{` {}`, true, ` {"stream_options":{"include_usage":true}}`},
		{`{ }`, true, `{"stream_options":{"include_usage":true} }`},
		{`{"model":"m","stream_options":{"include_usage":false,"include_obfuscation":false},"stream":true}`, true,
			`{"model":"m","stream_options":{"include_obfuscation":false,"include_usage":true},"stream":true}`},
		{`{"model":"m","stream_options":null,"stream":true}`, true, `{"model":"m","stream_options":{"include_usage":true},"stream":true}`},
		// Asked already, not streamed, or not an object: as written.
		{`{"model":"m","stream_options":{"include_usage":true},"stream":true}`, true, `{"model":"m","stream_options":{"include_usage":true},"stream":true}`},
		{`{"model":"m","seed":1}`, false, `{"model":"m","seed":1}`},
		{`{"model":"m","stream_options":"x","stream":true}`, true, `{"model":"m","stream_options":"x","stream":true}`},
	}
	for _, c := range cases {
		parts, n := chatParts(&provider.RawRequest{Op: OpChat, Body: []byte(c.body), Stream: c.stream})
		got := string(bytes.Join(parts, nil))
		if n != len(got) {
			t.Errorf("%s: length %d, body %d bytes", c.body, n, len(got))
		}
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.body, got, c.want)
		}
	}
}

func TestChatPartsWithModelSplice(t *testing.T) {
	t.Parallel()
	body := []byte(`{"model":"openai/gpt-4o","stream":true,"messages":[]}`)
	r := &provider.RawRequest{Op: OpChat, Body: body, Stream: true, ModelAt: [2]int{9, 24}, ModelValue: []byte(`"gpt-4o"`)}
	parts, n := chatParts(r)
	want := `{"stream_options":{"include_usage":true},"model":"gpt-4o","stream":true,"messages":[]}`
	if got := string(bytes.Join(parts, nil)); got != want || n != len(want) {
		t.Errorf("got %s (%d), want %s", got, n, want)
	}
	if string(body) != `{"model":"openai/gpt-4o","stream":true,"messages":[]}` {
		t.Error("the client's body was modified")
	}
	r.Body = []byte(`{"model":"openai/gpt-4o","stream":true,"stream_options":{"include_usage":true}}`)
	if parts, _ := chatParts(r); len(parts) != 3 {
		t.Errorf("a body that needs no rewrite is sent as its %d parts, want the splice's 3", len(parts))
	}
}

func feed(t *testing.T, m *chatMeter, frames ...string) []bool {
	t.Helper()
	var relayed []bool
	for _, f := range frames {
		ok, err := m.Event(sse.Event{Data: []byte(f)})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		relayed = append(relayed, ok)
	}
	return relayed
}

func TestChatMeter(t *testing.T) {
	t.Parallel()
	chunks := []string{
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}`,
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null}`,
		`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}`,
		`{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":80,"prompt_tokens_details":{"cached_tokens":1024},"completion_tokens_details":{"reasoning_tokens":32}}}`,
		`[DONE]`,
	}
	want := llm.Usage{InputTokens: 1200, OutputTokens: 80, CacheReadTokens: 1024, ReasoningTokens: 32}

	// The client did not ask for usage: the gateway's usage-only chunk is not relayed.
	m := newChatMeter(&provider.RawRequest{Op: OpChat, Body: []byte(`{"model":"m","stream":true}`), Stream: true})
	relayed := feed(t, m, chunks[:3]...)
	if m.Complete() || !m.Usage().Partial {
		t.Fatal("complete before the usage chunk")
	}
	relayed = append(relayed, feed(t, m, chunks[3:]...)...)
	if wantRelay := []bool{true, true, true, false, true}; !slices.Equal(relayed, wantRelay) {
		t.Errorf("relayed %v, want %v", relayed, wantRelay)
	}
	if !m.Complete() || m.Usage() != want {
		t.Errorf("usage %+v complete %v, want %+v", m.Usage(), m.Complete(), want)
	}

	// The client asked: everything is relayed.
	m = newChatMeter(&provider.RawRequest{Op: OpChat, Body: []byte(`{"stream_options":{"include_usage":true},"stream":true}`), Stream: true})
	if relayed := feed(t, m, chunks...); !slices.Equal(relayed, []bool{true, true, true, true, true}) || m.Usage() != want {
		t.Errorf("relayed %v usage %+v", relayed, m.Usage())
	}

	// A server that sends no usage: complete at [DONE], estimated.
	m = newChatMeter(&provider.RawRequest{Op: OpChat, Body: []byte(`{"stream":true}`), Stream: true})
	feed(t, m, chunks[0], chunks[1], chunks[2], chunks[4])
	if u := m.Usage(); !m.Complete() || !u.InputEstimated || !u.OutputEstimated || u.OutputTokens < 1 || u.Partial {
		t.Errorf("no usage: %+v complete %v", u, m.Complete())
	}

	// An in-stream error is relayed and ends the call.
	m = newChatMeter(&provider.RawRequest{Op: OpChat, Body: []byte(`{}`), Stream: true})
	ok, err := m.Event(sse.Event{Data: []byte(`{"error":{"message":"boom","type":"server_error"}}`)})
	if e, isErr := llm.AsError(err); !ok || !isErr || !e.InStream {
		t.Errorf("error event: relay %v err %v", ok, err)
	}

	// A whole answer.
	m = newChatMeter(&provider.RawRequest{Op: OpChat, Body: []byte(`{}`)})
	if err := m.Body([]byte(`{"id":"c","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1200,"completion_tokens":80,"prompt_tokens_details":{"cached_tokens":1024},"completion_tokens_details":{"reasoning_tokens":32}}}`)); err != nil {
		t.Fatal(err)
	}
	if !m.Complete() || m.Usage() != want {
		t.Errorf("body usage %+v", m.Usage())
	}
}
