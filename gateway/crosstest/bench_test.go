package crosstest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	inanthropic "github.com/polydev/polydev/gateway/inbound/anthropic"
	inopenai "github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/anthropic"
	"github.com/polydev/polydev/gateway/provider/gemini"
	"github.com/polydev/polydev/gateway/provider/openai"
	"github.com/polydev/polydev/internal/testkit"
)

// recordStream captures the raw stream body a fake sends for script: the bytes an adapter's
// decoder sees in production, without the network in the measurement.
func recordStream(b testing.TB, p testkit.Provider, script testkit.Script) []byte {
	var u *testkit.Upstream
	var req *http.Request
	switch p {
	case testkit.OpenAI:
		u = testkit.NewOpenAI(b, testkit.WithScript(script))
		req, _ = http.NewRequest("POST", u.URL+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`))
		req.Header.Set("Authorization", "Bearer "+u.Key)
	case testkit.Anthropic:
		u = testkit.NewAnthropic(b, testkit.WithScript(script))
		req, _ = http.NewRequest("POST", u.URL+"/v1/messages", strings.NewReader(`{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"}],"stream":true}`))
		req.Header.Set("X-Api-Key", u.Key)
		req.Header.Set("Anthropic-Version", "2023-06-01")
	case testkit.Gemini:
		u = testkit.NewGemini(b, testkit.WithScript(script))
		req, _ = http.NewRequest("POST", u.URL+"/v1beta/models/m:streamGenerateContent?alt=sse", strings.NewReader(`{"contents":[{"role":"user","parts":[{"text":"x"}]}]}`))
		req.Header.Set("X-Goog-Api-Key", u.Key)
	}
	resp, err := u.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("%d %v", resp.StatusCode, err)
	}
	return body
}

// discard is a ResponseWriter that keeps nothing (flushing is a no-op).
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}

// BenchmarkTranslate measures the gateway's own work per streamed delta: parsing the provider's
// SSE event, translating it, and rendering the client's chunk (200 text deltas and a tool call
// in 8 fragments per stream). ns/delta is the figure to compare with the latency budget.
func BenchmarkTranslate(b *testing.B) {
	script := testkit.Script{Text: strings.Repeat("token ", 200), Usage: testkit.DefaultUsage,
		ToolCalls: []testkit.ToolCall{{Name: "get_weather", Arguments: `{"location":"Paris, France","unit":"celsius","days":3}`, Fragments: 8}}}
	decoders := []struct {
		name   string
		p      testkit.Provider
		decode func(io.ReadCloser) llm.Stream
	}{
		{"openai", testkit.OpenAI, func(r io.ReadCloser) llm.Stream { return openai.DecodeStream(context.Background(), r, 100) }},
		{"anthropic", testkit.Anthropic, func(r io.ReadCloser) llm.Stream { return anthropic.DecodeStream(context.Background(), r, 100) }},
		{"gemini", testkit.Gemini, func(r io.ReadCloser) llm.Stream { return gemini.DecodeStream(context.Background(), r, 100) }},
	}
	for _, d := range decoders {
		body := recordStream(b, d.p, script)
		for _, in := range inbounds {
			b.Run(d.name+"_to_"+in, func(b *testing.B) {
				w := &discard{h: http.Header{}}
				rd := bytes.NewReader(body)
				deltas := 0
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					rd.Reset(body)
					s := d.decode(io.NopCloser(rd))
					var err error
					if in == "anthropic" {
						_, err = inanthropic.Relay(w, s)
					} else {
						_, err = inopenai.Relay(w, s, inopenai.Options{IncludeUsage: true})
					}
					if err != nil {
						b.Fatal(err)
					}
					deltas = 200 + 8
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*deltas), "ns/delta")
			})
		}
	}
}
