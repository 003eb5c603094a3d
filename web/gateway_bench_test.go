package web

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// BenchmarkGatewayNonStreaming measures one non-streamed request through the whole server (auth, key
// choice, reservation, upstream call to a local fake, durable usage record) on SQLite. Run with
// -cpuprofile to see where Polydev's own time goes; bench/gateway measures added latency properly.
func BenchmarkGatewayNonStreaming(b *testing.B) {
	e := benchEnv(b)
	token := e.benchToken
	body := `{"model":"openai/gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	client := e.ts.Client()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", e.ts.URL+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
}

type benchEnvT struct {
	*env
	benchToken string
}

func benchEnv(b *testing.B) *benchEnvT {
	b.Helper()
	e := gatewayEnv(b, "sqlite")
	e.platformFakes(testkit.WithoutRecording())
	token, _ := e.apiUser("bench@example.com", polydev.TierPlus)
	return &benchEnvT{env: e, benchToken: token}
}
