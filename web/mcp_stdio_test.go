package web

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// polydevBinary builds cmd/polydev once for the tests that run it as a child process.
var polydevBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "polydev-web-bin")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "polydev")
	if out, err := exec.Command("go", "build", "-o", path, "../cmd/polydev").CombinedOutput(); err != nil {
		return "", &exec.Error{Name: "go build: " + string(out), Err: err}
	}
	return path, nil
})

// TestMCPStdio runs `polydev mcp` as a child process and talks to it with the Go SDK's client over
// stdio: the tools are the server's, get_perspectives reaches three providers (one failing, and a
// limit reached mid-fan-out on a second call) with progress relayed, and the machine's coding
// CLIs (a fake claude on PATH with a credential file) are reported to the server.
func TestMCPStdio(t *testing.T) {
	t.Parallel()
	bin, err := polydevBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(bin)) })
	e := gatewayEnv(t, "sqlite")
	fs := e.platformFakes()
	for _, f := range fs {
		f.up.SetScript(testkit.Script{Text: "stdio view of " + f.provider, Usage: testkit.Usage{PromptTokens: 12, CompletionTokens: 5}})
	}
	cookie := e.userWithTier("stdio@example.com", polydev.TierPro)
	token, _ := e.mcpToken(cookie)

	// Four requests a day (a daily limit: a per-minute window could turn between the two calls;
	// and requests are counted only while a limit is set).
	rows, err := e.store.ListTierLimits(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	four := int64(4)
	for _, l := range rows {
		if l.Tier == polydev.TierPro {
			l.RequestsPerDay = &four
		}
	}
	if err := e.store.PutTierLimits(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	home, path := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(path, "claude"), []byte("#!/bin/sh\necho '2.0.5 (Claude Code)'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".claude"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".claude", ".credentials.json"), []byte(`{"claudeAiOauth":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "mcp", "--machine", "ci-box")
	cmd.Env = []string{"POLYDEV_URL=" + e.ts.URL, "POLYDEV_MCP_TOKEN=" + token, "HOME=" + home, "PATH=" + path}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("polydev mcp's stderr:\n%s", stderr.String())
		}
	})
	prog := &progressLog{}
	client := sdk.NewClient(&sdk.Implementation{Name: "stdio-test", Version: "1"}, &sdk.ClientOptions{ProgressNotificationHandler: prog.add})
	cs, err := client.Connect(t.Context(), &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v; stderr: %s", err, stderr.String())
	}
	defer cs.Close()

	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil || len(tools.Tools) != 3 {
		t.Fatalf("tools: %v %+v", err, tools)
	}
	fs[1].up.SetScript(testkit.ErrorScript(500))
	models := []string{fs[0].model, fs[1].model, fs[2].model}
	res, out := perspectivesOf(t, cs, map[string]any{"prompt": "over stdio", "models": models}, 7)
	if res.IsError || len(out.Answers) != 3 || out.Answers[0].Text != "stdio view of openai" || out.Answers[2].Text != "stdio view of gemini" ||
		out.Answers[1].Error == nil || out.Answers[1].Error.Status != http.StatusBadGateway || out.Answers[0].Cost <= 0 {
		t.Fatalf("answers = %+v", out.Answers)
	}
	if got := prog.wait(t, 3); len(got) != 3 || got[2].Progress != 3 || got[2].Total != 3 {
		t.Fatalf("progress notifications relayed: %+v", got)
	}

	// A limit reached mid-fan-out: four requests a day, of which the first call takes three.
	_, out = perspectivesOf(t, cs, map[string]any{"prompt": "again", "models": []string{fs[0].model, fs[2].model}}, nil)
	limited := 0
	for _, a := range out.Answers {
		if a.Error != nil && a.Error.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if len(out.Answers) != 2 || limited != 1 {
		t.Fatalf("answers after the limit = %+v", out.Answers)
	}

	// The CLI report is sent in the background at start.
	var list struct {
		CLIs []polydev.CLIStatus `json:"clis"`
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		e.want(e.do("GET", "/api/cli-status", nil, "Cookie", cookie), http.StatusOK).json(t, &list)
		if len(list.CLIs) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(list.CLIs) != 3 {
		t.Fatalf("CLI status rows = %+v; stderr: %s", list.CLIs, stderr.String())
	}
	for _, c := range list.CLIs {
		if c.Machine != "ci-box" {
			t.Fatalf("machine = %q", c.Machine)
		}
		switch c.Provider {
		case polydev.CLIClaudeCode:
			if c.Status != polydev.CLIAvailable || !c.Authenticated || c.Version != "2.0.5 (Claude Code)" || c.Path != filepath.Join(path, "claude") {
				t.Fatalf("claude = %+v", c)
			}
		default:
			if c.Status != polydev.CLINotInstalled || c.Authenticated {
				t.Fatalf("%s = %+v", c.Provider, c)
			}
		}
	}
	if strings.Contains(stderr.String(), token) {
		t.Fatal("the MCP token reached polydev mcp's log")
	}
}
