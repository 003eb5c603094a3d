package testkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
)

// call is one request to a fake in a test.
type call struct {
	method string
	path   string
	body   string
	key    *string           // nil: the upstream's own key; "" sends no key
	header map[string]string // extra headers
}

func keyOf(k string) *string { return &k }

// authHeader puts key where the provider expects it.
func authHeader(p Provider, h http.Header, key string) {
	switch p {
	case OpenAI:
		h.Set("Authorization", "Bearer "+key)
	case Anthropic:
		h.Set("X-Api-Key", key)
	case Gemini:
		h.Set("X-Goog-Api-Key", key)
	}
}

func (c call) request(t testing.TB, ctx context.Context, u *Upstream) *http.Request {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if c.body != "" {
		body = bytes.NewBufferString(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	key := u.Key
	if c.key != nil {
		key = *c.key
	}
	if key != "" {
		authHeader(u.Provider, req.Header, key)
	}
	if u.Provider == Anthropic {
		req.Header.Set("Anthropic-Version", "2023-06-01")
	}
	for k, v := range c.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return req
}

// do sends c and returns the status, headers and whole body.
func (c call) do(t testing.TB, u *Upstream) (int, http.Header, []byte) {
	t.Helper()
	resp, err := u.Client().Do(c.request(t, t.Context(), u))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s %s: %v", c.method, c.path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// Typical generation requests per provider.
const (
	openaiBody         = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}`
	openaiStreamBody   = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true}}`
	openaiStreamNoUse  = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}],"stream":true}`
	responsesBody      = `{"model":"gpt-4o-mini","input":"Hi","store":false}`
	responsesStream    = `{"model":"gpt-4o-mini","input":"Hi","store":false,"stream":true}`
	anthropicBody      = `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}]}`
	anthropicStream    = `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"Hi"}],"stream":true}`
	geminiBody         = `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}`
	geminiGeneratePath = "/v1beta/models/gemini-2.5-flash:generateContent"
	geminiStreamPath   = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
)

// generation returns the streaming or non-streaming request for a provider.
func generation(p Provider, stream bool) call {
	switch p {
	case OpenAI:
		if stream {
			return call{path: "/v1/chat/completions", body: openaiStreamBody}
		}
		return call{path: "/v1/chat/completions", body: openaiBody}
	case Anthropic:
		if stream {
			return call{path: "/v1/messages", body: anthropicStream}
		}
		return call{path: "/v1/messages", body: anthropicBody}
	default:
		if stream {
			return call{path: geminiStreamPath, body: geminiBody}
		}
		return call{path: geminiGeneratePath, body: geminiBody}
	}
}

// constructors lets one test run against every provider.
var constructors = []struct {
	p   Provider
	new func(testing.TB, ...Option) *Upstream
}{
	{OpenAI, NewOpenAI},
	{Anthropic, NewAnthropic},
	{Gemini, NewGemini},
}
