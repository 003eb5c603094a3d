package web

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/netguard"
)

// TestStreamHeartbeat: a stream whose model is slow to produce its first token gets SSE comments
// meanwhile, and still completes normally, on both inbound shapes.
func TestStreamHeartbeat(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{StreamHeartbeat: 20 * time.Millisecond, LoginBurst: 100})
	guard, _ := netguard.ParseAllowList("127.0.0.0/8")
	e.srv.keys.Guard = guard
	slow := testkit.Script{Text: "finally", TokenDelay: 150 * time.Millisecond, Usage: testkit.Usage{PromptTokens: 5, CompletionTokens: 1}}
	for _, f := range e.platformFakes(testkit.WithScript(slow)) {
		if f.provider != "openai" {
			continue
		}
		token, _ := e.apiUser("hb@example.com", polydev.TierPlus)
		for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
			res := e.gwRequest(t.Context(), path, token, `{"model":"`+f.model+`","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			body := string(b)
			if res.StatusCode != 200 || !strings.Contains(body, "\n:") && !strings.HasPrefix(body, ":") || !strings.Contains(body, "finally") {
				t.Fatalf("%s: status %d, no heartbeat comment or no content:\n%s", path, res.StatusCode, body)
			}
		}
	}
}
