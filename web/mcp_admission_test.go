package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// TestMCPAdmission: /mcp goes through admission. Its message is read under the mcp cap (a
// Content-Length over it is a 413 in the API's shape before any byte is read; before admission
// /mcp took up to the gateway's 32 MiB), and a get_perspectives call whose upstream answers after
// both body deadlines (the JSON API's, set by the middleware from the request's arrival, and the
// gateway's) still answers: admission clears the deadline once the message is in. (The second
// half also passes without admission: the MCP SDK's tool call does not end when net/http cancels
// the request's context at the deadline, so it guards the behaviour, not a known failure.)
func TestMCPAdmission(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	// Set before any request: the server reads its configuration per request.
	e.srv.cfg.BodyReadTimeout = time.Second
	e.srv.cfg.GatewayBodyTimeout = time.Second
	e.srv.cfg.GatewayBodyLimits = map[string]int64{LimitMCP: 4096}
	fs := e.platformFakes()
	// The upstream's first byte comes after both deadlines have passed.
	fs[0].up.SetScript(testkit.Script{Text: "late view", FirstByteLatency: 2 * time.Second})
	cookie := e.userWithTier("mcp-admission@example.com", polydev.TierPro)
	token, _ := e.mcpToken(cookie)

	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 8192) + `"}}`
	got := e.want(e.do("POST", "/mcp", big, "Authorization", "Bearer "+token, "Accept", "application/json, text/event-stream"), http.StatusRequestEntityTooLarge).errorBody(t)
	if !strings.Contains(got.Message, "4096") {
		t.Fatalf("413 message = %q", got.Message)
	}

	cs := e.mcpClient(token, nil)
	res, out := perspectivesOf(t, cs, map[string]any{"prompt": "hi", "models": []string{fs[0].model}}, nil)
	if res.IsError || len(out.Answers) != 1 || out.Answers[0].Error != nil || out.Answers[0].Text != "late view" {
		t.Fatalf("a call that outlived the body deadline: %+v", out.Answers)
	}
}
