package crosstest

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/internal/testkit"
)

var scriptUsage = testkit.Usage{PromptTokens: 1200, CompletionTokens: 80, CachedTokens: 1024, CacheWriteTokens: 100, ReasoningTokens: 32}

func wantStop(inbound string, tools bool) string {
	switch {
	case inbound == "anthropic" && tools:
		return "tool_use"
	case inbound == "anthropic":
		return "end_turn"
	case tools:
		return "tool_calls"
	}
	return "stop"
}

// TestMatrix: every inbound shape × every provider × text/tool calls × streamed or not. What the
// client gets equals what the fake upstream was scripted to send.
func TestMatrix(t *testing.T) {
	t.Parallel()
	scripts := map[string]testkit.Script{
		"text": {Text: "Hello there, how are you today?", Usage: scriptUsage},
		"tools": {Text: "Checking.", Usage: scriptUsage, ToolCalls: []testkit.ToolCall{
			{Name: "get_weather", Arguments: `{"location":"Paris, France","unit":"celsius"}`, Fragments: 3},
			{Name: "get_time", Arguments: `{"tz":"Europe/Paris"}`},
		}},
	}
	for _, in := range inbounds {
		for _, up := range upstreams {
			for name, script := range scripts {
				for _, stream := range []bool{false, true} {
					mode := "json"
					if stream {
						mode = "stream"
					}
					t.Run(in+"/"+up.name+"/"+name+"/"+mode, func(t *testing.T) {
						t.Parallel()
						fake := up.new(t, testkit.WithScript(script))
						g := &gateway{inbound: in, p: up.p, model: up.model, client: fake.Client(),
							target: provider.Target{BaseURL: fake.BaseURL(), APIKey: fake.Key}, usage: make(chan llm.Usage, 1)}
						gw := startGateway(t, g)
						res := post(t, gw.URL, in, clientRequest(in, stream))
						if res.status != 200 {
							t.Fatalf("status %d: %s", res.status, res.raw)
						}
						if res.text != script.Text {
							t.Errorf("text %q, want %q", res.text, script.Text)
						}
						if len(res.calls) != len(script.ToolCalls) {
							t.Fatalf("%d tool calls, want %d: %s", len(res.calls), len(script.ToolCalls), res.raw)
						}
						for i, c := range res.calls {
							w := script.ToolCalls[i]
							if c.Name != w.Name || !jsonEqual(string(c.Arguments), w.Arguments) || c.ID == "" {
								t.Errorf("call %d: %s(%s) id %q, want %s(%s)", i, c.Name, c.Arguments, c.ID, w.Name, w.Arguments)
							}
						}
						if want := wantStop(in, len(script.ToolCalls) > 0); res.stop != want {
							t.Errorf("stop %q, want %q", res.stop, want)
						}
						if want := inboundUsage(in, up.usage(script.Usage)); res.usage != want {
							t.Errorf("usage %+v, want %+v", res.usage, want)
						}
						if stream && in == "anthropic" && up.name != "openai" {
							// Anthropic and Gemini report the input side up front: message_start carries it.
							if want := up.usage(script.Usage); res.start.InputTokens != want.InputTokens || res.start.CacheReadTokens != want.CacheReadTokens {
								t.Errorf("message_start usage %+v, want input %d", res.start, want.InputTokens)
							}
						}
						if stream {
							if u := <-g.usage; u != up.usage(script.Usage) {
								t.Errorf("billed usage %+v, want %+v", u, up.usage(script.Usage))
							}
						}
						// The upstream got the configured key; the body's api_key/base_url did nothing.
						last := fake.LastRequest()
						if last.Key != fake.Key || bytes.Contains(last.Body, []byte("attacker")) || bytes.Contains(last.Body, []byte("evil.invalid")) {
							t.Errorf("upstream request: key %q body %s", last.Key, last.Body)
						}
						if last.Stream() != stream {
							t.Errorf("upstream stream=%v", last.Stream())
						}
					})
				}
			}
		}
	}
}

func TestUpstreamHTTPErrors(t *testing.T) {
	t.Parallel()
	type want struct {
		status int
		typ    string
	}
	wants := map[string]map[int]want{
		"openai":    {401: {502, "server_error"}, 429: {429, "rate_limit_error"}, 500: {502, "server_error"}, 529: {503, "server_error"}},
		"anthropic": {401: {502, "api_error"}, 429: {429, "rate_limit_error"}, 500: {502, "api_error"}, 529: {529, "overloaded_error"}},
	}
	for _, in := range inbounds {
		for _, up := range upstreams {
			t.Run(in+"/"+up.name, func(t *testing.T) {
				t.Parallel()
				for status, w := range wants[in] {
					fake := up.new(t, testkit.WithScript(testkit.ErrorScript(status)))
					gw := startGateway(t, &gateway{inbound: in, p: up.p, model: up.model, client: fake.Client(),
						target: provider.Target{BaseURL: fake.BaseURL(), APIKey: fake.Key}})
					for _, stream := range []bool{false, true} {
						res := post(t, gw.URL, in, clientRequest(in, stream))
						if res.status != w.status || res.errTyp != w.typ || !strings.HasPrefix(res.errMsg, up.name+": ") {
							t.Errorf("upstream %d stream=%v: got %d %q %q, want %d %q", status, stream, res.status, res.errTyp, res.errMsg, w.status, w.typ)
						}
						if bytes.Contains(res.raw, []byte(fake.Key)) || bytes.Contains(res.raw, []byte(fake.Key[len(fake.Key)-6:])) {
							t.Errorf("key in the client's error body: %s", res.raw)
						}
					}
				}
			})
		}
	}
}

// TestStreamErrors: an upstream error after its 200 (Anthropic's `event: error`, OpenAI's error
// chunk, Gemini's error chunk) and malformed or cut streams. Before any content the client gets a
// plain HTTP error; after it, an error event in its own shape. Nothing hangs.
func TestStreamErrors(t *testing.T) {
	t.Parallel()
	for _, in := range inbounds {
		for _, up := range upstreams {
			t.Run(in+"/"+up.name, func(t *testing.T) {
				t.Parallel()
				fake := up.new(t)
				gw := startGateway(t, &gateway{inbound: in, p: up.p, model: up.model, client: fake.Client(),
					target: provider.Target{BaseURL: fake.BaseURL(), APIKey: fake.Key}})
				cases := []struct {
					name     string
					script   testkit.Script
					text     string
					status   int // 200: error in-stream
					overload bool
				}{
					{"error after content", testkit.Script{Text: "a b c d", StreamError: &testkit.StreamError{AfterDeltas: 2}}, "a b ", 200, up.name != "openai"},
					{"error before content", testkit.Script{Text: "a b c d", StreamError: &testkit.StreamError{AfterDeltas: 0}}, "", 0, up.name != "openai"},
					{"malformed", testkit.Script{Text: "a b c d", Malformed: &testkit.Malformed{AfterDeltas: 1}}, "a ", 200, false},
					{"cut", testkit.Script{Text: "a b c d", Malformed: &testkit.Malformed{AfterDeltas: 2, Bytes: []byte("data: {\"tru"), Abort: true}}, "a b ", 200, false},
				}
				for _, c := range cases {
					fake.SetScript(c.script)
					res := post(t, gw.URL, in, clientRequest(in, true))
					if res.text != c.text || res.errTyp == "" || res.errMsg == "" {
						t.Errorf("%s: text %q err %q %q\n%s", c.name, res.text, res.errTyp, res.errMsg, res.raw)
					}
					if c.status == 200 && res.status != 200 || c.status == 0 && res.status < 400 {
						t.Errorf("%s: status %d", c.name, res.status)
					}
					if c.overload && in == "anthropic" && res.errTyp != "overloaded_error" {
						t.Errorf("%s: type %q, want overloaded_error", c.name, res.errTyp)
					}
					if c.status == 0 && c.overload && in == "anthropic" && res.status != 529 {
						t.Errorf("%s: status %d, want 529", c.name, res.status)
					}
				}
			})
		}
	}
}

// TestClientDisconnect: a client that hangs up mid-stream makes the gateway abort the upstream
// request at once, and the gateway bills the partial usage.
func TestClientDisconnect(t *testing.T) {
	t.Parallel()
	words := strings.Repeat("word ", 300)
	for _, in := range inbounds {
		for _, up := range upstreams {
			t.Run(in+"/"+up.name, func(t *testing.T) {
				t.Parallel()
				gone := make(chan testkit.Disconnect, 1)
				fake := up.new(t, testkit.WithScript(testkit.Script{Text: words, Usage: scriptUsage, TokenDelay: 5 * time.Millisecond}),
					testkit.WithOnDisconnect(func(d testkit.Disconnect) { gone <- d }))
				g := &gateway{inbound: in, p: up.p, model: up.model, client: fake.Client(),
					target: provider.Target{BaseURL: fake.BaseURL(), APIKey: fake.Key}, usage: make(chan llm.Usage, 1)}
				gw := startGateway(t, g)
				path := "/v1/chat/completions"
				if in == "anthropic" {
					path = "/v1/messages"
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.URL+path, bytes.NewReader(clientRequest(in, true)))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				r := bufio.NewReader(resp.Body)
				seen := 0
				for seen < 3 {
					line, err := r.ReadString('\n')
					if err != nil {
						t.Fatalf("stream ended early: %v", err)
					}
					seen += strings.Count(line, "word")
				}
				cancel()
				resp.Body.Close()
				select {
				case d := <-gone:
					if d.DeltasSent >= 300 {
						t.Errorf("upstream finished: %+v", d)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the upstream never saw the disconnect")
				}
				select {
				case u := <-g.usage:
					want := up.usage(scriptUsage)
					if !u.Partial || !u.OutputEstimated || u.OutputTokens < 3 {
						t.Errorf("billed %+v", u)
					}
					// Anthropic and Gemini report the input side before the end; OpenAI only at the end.
					if up.name != "openai" && (u.InputEstimated || u.InputTokens != want.InputTokens || u.CacheReadTokens != want.CacheReadTokens) {
						t.Errorf("billed input %+v, want %d", u, want.InputTokens)
					}
					if up.name == "openai" && (!u.InputEstimated || u.InputTokens == 0) {
						t.Errorf("billed input %+v: want a flagged estimate", u)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the gateway never finished the stream")
				}
			})
		}
	}
}

// TestInvalidRequests: bad bodies get a 400 in the inbound shape and never reach the upstream.
func TestInvalidRequests(t *testing.T) {
	t.Parallel()
	bodies := map[string][]string{
		"openai": {``, `[]`, `{"model":"m"}`, `{"model":"m","messages":[{"role":"wizard","content":"x"}]}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}`,
			`{"model":"m","messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]}`},
		"anthropic": {`{`, `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"document"}]}]}`,
			`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`},
	}
	for _, in := range inbounds {
		fake := testkit.NewOpenAI(t)
		gw := startGateway(t, &gateway{inbound: in, p: upstreams[0].p, model: "m", client: fake.Client(), target: provider.Target{BaseURL: fake.BaseURL(), APIKey: fake.Key}})
		for _, b := range bodies[in] {
			res := post(t, gw.URL, in, []byte(b))
			if res.status != 400 || res.errTyp != "invalid_request_error" {
				t.Errorf("%s %s: %d %s", in, b, res.status, res.raw)
			}
		}
		if n := fake.RequestCount(); n != 0 {
			t.Errorf("%s: %d requests reached the upstream", in, n)
		}
	}
}
