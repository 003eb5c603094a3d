package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// bigClaudeCodeBody is claudeCodeBody grown to about 126 KB with a long history of text,
// tool_use and tool_result blocks (escaped quotes and newlines included), the size of a Claude
// Code request in a long session (bench/gateway/anthropic.go makes the same shape for the load
// bench).
func bigClaudeCodeBody(size int) string {
	var h strings.Builder
	for i := 0; h.Len() < size; i++ {
		fmt.Fprintf(&h, `{"role":"assistant","content":[{"type":"text","text":"Reading file %d: the \"handler\" returns\nan error when the body is empty."},`+
			`{"type":"tool_use","id":"toolu_%04d","name":"Bash","input":{"command":"sed -n 1,80p web/gateway_%d.go"}}]},`+
			`{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_%04d","content":"package web\n\nimport (\n\t\"net/http\"\n)\n\n// serve answers.\nfunc serve(w http.ResponseWriter, r *http.Request) {\n\tw.WriteHeader(200) // ok\n}\n%s"}]},`,
			i, i, i, i, strings.Repeat("x", 400))
	}
	return strings.Replace(claudeCodeBody, `"messages":[`, `"messages":[`+h.String(), 1)
}

// BenchmarkAnthropicPassthrough serves a 126 KB /v1/messages body end to end through the
// handler to the fake upstream (non-streaming), the path issue 11 measures against a bare
// reverse proxy. Allocated bytes per op are exact and include the fake upstream's and the
// client's share, which do not change with the gateway's code.
func BenchmarkAnthropicPassthrough(b *testing.B) {
	e := gatewayEnv(b, "sqlite")
	up := e.platformFakes()[1].up
	token, _ := e.apiUser("bench@example.com", polydev.TierFree)
	up.SetScript(testkit.Script{Text: "ok", Usage: testkit.Usage{PromptTokens: 30000, CompletionTokens: 2}})
	body := bigClaudeCodeBody(126 << 10)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		e.want(e.do("POST", "/v1/messages", body, "x-api-key", token), http.StatusOK)
	}
}

// BenchmarkAnthropicPassthroughStream is BenchmarkAnthropicPassthrough with "stream":true: the
// answer is relayed event by event (hold until content, keep-alive timer, meter, flushes).
func BenchmarkAnthropicPassthroughStream(b *testing.B) {
	e := gatewayEnv(b, "sqlite")
	up := e.platformFakes()[1].up
	token, _ := e.apiUser("bench@example.com", polydev.TierFree)
	up.SetScript(testkit.Script{Text: "one two three four five six seven", Usage: testkit.Usage{PromptTokens: 30000, CompletionTokens: 7}})
	body := strings.Replace(bigClaudeCodeBody(126<<10), `"max_tokens":32000,`, `"max_tokens":32000,"stream":true,`, 1)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		e.want(e.do("POST", "/v1/messages", body, "x-api-key", token), http.StatusOK)
	}
}
