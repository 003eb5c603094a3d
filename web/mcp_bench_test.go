package web

import (
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// BenchmarkMCPFanOut measures get_perspectives over N models whose fake upstreams answer after
// 50, 100 and 200 ms (then 200 ms for any further one): the call should take the slowest
// model's time plus Polydev's own work. It reports that excess per call as overhead-ms
// (bench/mcp/run.sh; figures in docs/PERFORMANCE.md). No threshold is asserted anywhere.
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
	call() // warm connections
	b.ResetTimer()
	var excess time.Duration
	for b.Loop() {
		excess += call() - delays[2]
	}
	b.ReportMetric(float64(excess.Microseconds())/1000/float64(b.N), "overhead-ms")
}
