package agents

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/internal/testkit"
)

// TestClaudeCodeMCP: Claude Code, its own model served by Polydev's /v1/messages from the fake
// Anthropic, runs `polydev mcp` as an MCP server (as `claude mcp add polydev -- polydev mcp` sets
// up) and calls get_perspectives: the fake Anthropic asks for the tool, Polydev fans the prompt out
// to the OpenAI and Gemini fakes, the answers come back to the model as the tool's result, and
// Claude Code prints the final answer. `polydev mcp` also reports the coding CLIs on the run's PATH
// (the real claude, codex and gemini from npm).
func TestClaudeCodeMCP(t *testing.T) {
	e := newEnv(t)
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := api(t, e.base, 200, "POST", "/api/account/login", `{"email":"dev@example.com","password":"dev-password-001"}`)
	user := sessionCookie(t, h)
	_, body := api(t, e.base, 201, "POST", "/api/mcp/tokens", `{"name":"claude code"}`, "Cookie", user)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil || !strings.HasPrefix(tok.Token, "pdm_") {
		t.Fatalf("MCP token: %v %s", err, body)
	}

	e.openai.Enqueue(testkit.Script{Text: "GPT-PERSPECTIVE-4711: use a B-tree.", Usage: testkit.DefaultUsage})
	e.gemini.Enqueue(testkit.Script{Text: "GEMINI-PERSPECTIVE-0815: use an LSM tree.", Usage: testkit.DefaultUsage})
	usage := testkit.Usage{PromptTokens: 30000, CompletionTokens: 40, CachedTokens: 24000}
	args, _ := json.Marshal(map[string]any{"prompt": "Which index structure for a write-heavy store?",
		"models": []string{"openai/gpt-4o-mini", "gemini/gemini-2.5-flash"}})
	e.anthropic.Enqueue(
		testkit.Script{ToolCalls: []testkit.ToolCall{{ID: "toolu_01PolydevPerspectives", Name: "mcp__polydev__get_perspectives",
			Arguments: string(args)}}, Usage: usage},
		testkit.Script{Text: "Two perspectives: GPT-PERSPECTIVE-4711 and GEMINI-PERSPECTIVE-0815.", Usage: usage},
	)
	cfg, _ := json.Marshal(map[string]any{"mcpServers": map[string]any{"polydev": map[string]any{
		"command": bin, "args": []string{"mcp", "--machine", "e2e-box"},
		"env": map[string]string{"POLYDEV_URL": e.base, "POLYDEV_MCP_TOKEN": tok.Token},
	}}})
	r := e.newRun(t)
	m := e.anthropic.RequestCount()
	res := e.claude(t, r, e.token, "-p", "Ask several models which index structure to use.", "--strict-mcp-config",
		"--mcp-config", string(cfg), "--allowedTools", "mcp__polydev__get_perspectives")
	wantSuccess(t, res, "Two perspectives: GPT-PERSPECTIVE-4711 and GEMINI-PERSPECTIVE-0815.")

	ups := upstreamSince(e.anthropic, m)
	if len(ups) != 2 {
		t.Fatalf("the Anthropic upstream got %d requests, want 2 (the tool call, then the answer)", len(ups))
	}
	// Claude Code offered Polydev's tools to the model, and sent back the tool's result: both
	// models' answers, from their upstreams through the gateway.
	if !strings.Contains(string(ups[0].Body), "mcp__polydev__get_perspectives") {
		t.Error("the first request did not offer mcp__polydev__get_perspectives")
	}
	second := string(ups[1].Body)
	for _, want := range []string{`"tool_result"`, "GPT-PERSPECTIVE-4711", "GEMINI-PERSPECTIVE-0815", "openai/gpt-4o-mini", "gemini/gemini-2.5-flash"} {
		if !strings.Contains(second, want) {
			t.Errorf("the tool result sent back lacks %q", want)
		}
	}
	if got := e.openai.LastRequest(); !strings.Contains(string(got.Body), "write-heavy") {
		t.Error("the OpenAI upstream did not get the prompt")
	}
	if got := e.gemini.LastRequest(); !strings.Contains(string(got.Body), "write-heavy") {
		t.Error("the Gemini upstream did not get the prompt")
	}

	// The CLI report runs in the background of `polydev mcp`; by now it has usually arrived.
	var clis struct {
		CLIs []struct {
			Machine, Provider, Status, CLIVersion, CLIPath string
		} `json:"clis"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, b := api(t, e.base, 200, "GET", "/api/cli-status", "", "Cookie", user)
		if err := json.Unmarshal([]byte(b), &clis); err != nil {
			t.Fatal(err)
		}
		if len(clis.CLIs) == 3 || time.Now().After(deadline) {
			break
		}
	}
	if len(clis.CLIs) != 3 {
		t.Fatalf("CLI status rows = %+v", clis.CLIs)
	}
	for _, c := range clis.CLIs {
		// The version comes in a second report, after each CLI has run --version: the session may
		// end first (TestMCPStdio checks versions with a CLI that answers at once).
		if c.Machine != "e2e-box" || (c.Status != "available" && c.Status != "error") || !strings.Contains(c.CLIPath, "node_modules/.bin/") {
			t.Errorf("CLI status %+v: want each npm CLI found on PATH", c)
		}
	}
	wantNoToken(t, tok.Token, e.openai, e.anthropic, e.gemini)
}
