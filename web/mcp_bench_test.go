package web

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// BenchmarkMCPFanOut measures get_perspectives over N models whose fake upstreams answer after
// 50, 100 and 200 ms: the call should take the slowest model's time plus Polydev's own work. Each
// round makes the same three requests straight to the fakes, in parallel from this process
// (direct: what a fan-out of three HTTP calls costs on the machine at that moment), then the
// get_perspectives call. It reports, per round, overhead-ms (the call beyond the slowest model's
// 200 ms), direct-overhead-ms (the direct fan-out beyond 200 ms) and added-ms (their difference:
// what going through Polydev's MCP endpoint adds). bench/mcp/run.sh; figures in
// docs/PERFORMANCE.md. No threshold is asserted anywhere.
func BenchmarkMCPFanOut(b *testing.B) {
	e := gatewayEnv(b, "sqlite")
	e.journaled(b) // as serve runs SQLite
	delays := []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}
	admin := e.signup("bench-admin@example.com", pw)
	e.makeAdmin("bench-admin@example.com")
	fs := []fake{
		{"openai", "openai/gpt-4o-mini", testkit.NewOpenAI(b, testkit.WithFirstByteLatency(delays[0]), testkit.WithoutRecording())},
		{"anthropic", "anthropic/claude-haiku-4-5", testkit.NewAnthropic(b, testkit.WithFirstByteLatency(delays[1]), testkit.WithoutRecording())},
		{"gemini", "gemini/gemini-2.5-flash", testkit.NewGemini(b, testkit.WithFirstByteLatency(delays[2]), testkit.WithoutRecording())},
	}
	for _, f := range fs {
		e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": f.provider, "apiKey": f.up.Key, "baseUrl": f.up.BaseURL()}, "Cookie", admin), 201)
	}
	cookie := e.userWithTier("bench@example.com", polydev.TierPro)
	token, _ := e.mcpToken(cookie)
	cs := e.mcpClient(token, nil)
	models := []string{fs[0].model, fs[1].model, fs[2].model}
	call := func() time.Duration {
		began := time.Now()
		res, err := cs.CallTool(b.Context(), &sdk.CallToolParams{Name: "get_perspectives", Arguments: map[string]any{"prompt": "bench", "models": models}})
		if err != nil || res.IsError {
			b.Fatalf("%v %+v", err, res)
		}
		return time.Since(began)
	}
	direct := directFanOut(b, fs)
	call() // warm connections
	direct()
	b.ResetTimer()
	var mcp, dir time.Duration
	for b.Loop() {
		dir += direct() - delays[2]
		mcp += call() - delays[2]
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(ms(mcp), "overhead-ms")
	b.ReportMetric(ms(dir), "direct-overhead-ms")
	b.ReportMetric(ms(mcp-dir), "added-ms")
}

// directFanOut returns a function that asks the three fakes (OpenAI, Anthropic, Gemini, in that
// order) one short prompt each, in parallel, each in its own wire format, and returns when all
// have answered.
func directFanOut(b *testing.B, fs []fake) func() time.Duration {
	type req struct {
		url, body string
		header    [][2]string
	}
	reqs := []req{
		{fs[0].up.URL + "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"bench"}]}`,
			[][2]string{{"Authorization", "Bearer " + fs[0].up.Key}}},
		{fs[1].up.URL + "/v1/messages", `{"model":"claude-haiku-4-5","max_tokens":1024,"messages":[{"role":"user","content":"bench"}]}`,
			[][2]string{{"X-Api-Key", fs[1].up.Key}, {"Anthropic-Version", "2023-06-01"}}},
		{fs[2].up.URL + "/v1beta/models/gemini-2.5-flash:generateContent", `{"contents":[{"role":"user","parts":[{"text":"bench"}]}]}`,
			[][2]string{{"X-Goog-Api-Key", fs[2].up.Key}}},
	}
	client := &http.Client{}
	b.Cleanup(client.CloseIdleConnections)
	return func() time.Duration {
		began := time.Now()
		var wg sync.WaitGroup
		for _, q := range reqs {
			wg.Go(func() {
				hr, err := http.NewRequest("POST", q.url, strings.NewReader(q.body))
				if err != nil {
					b.Error(err)
					return
				}
				hr.Header.Set("Content-Type", "application/json")
				for _, h := range q.header {
					hr.Header.Set(h[0], h[1])
				}
				resp, err := client.Do(hr)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("%s: %d", q.url, resp.StatusCode)
				}
			})
		}
		wg.Wait()
		return time.Since(began)
	}
}
