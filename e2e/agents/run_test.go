package agents

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// result is what an agent printed and how it ended.
type result struct {
	stdout, stderr string
	exit           int // -1: killed at the hang bound
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", r.exit, tail(r.stdout, 4<<10), tail(r.stderr, 4<<10))
}

// agentRun is one agent process: a throwaway HOME and working directory, a minimal environment (no
// variable of the machine's leaks in: a host's ANTHROPIC_API_KEY would change what is tested), the
// proxies pointing at the egress catcher.
type agentRun struct {
	home, work string
	env        []string
	bound      time.Duration // hangBound unless set
}

func (e *env) newRun(t *testing.T) *agentRun {
	t.Helper()
	root := t.TempDir()
	r := &agentRun{home: filepath.Join(root, "home"), work: filepath.Join(root, "project")}
	for _, d := range []string{r.home, r.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(e.tools, "node_modules", ".bin")
	nodeDir := filepath.Dir(mustRealpath(t, filepath.Join(bin, "node")))
	r.env = []string{
		"PATH=" + bin + ":" + nodeDir + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + r.home, "TERM=dumb", "LANG=C.UTF-8", "TMPDIR=" + root,
		"HTTPS_PROXY=" + e.egress.URL, "HTTP_PROXY=" + e.egress.URL, "https_proxy=" + e.egress.URL, "http_proxy=" + e.egress.URL,
		"NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost",
	}
	return r
}

func mustRealpath(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *agentRun) write(t *testing.T, rel, content string) string {
	t.Helper()
	p := filepath.Join(r.work, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// hangBound only keeps a broken run from holding the suite; nothing is asserted about time.
const hangBound = 5 * time.Minute

// wrongTokenBound bounds a run with a wrong token: a correct agent gives up after one request (or
// its own small fixed retry budget) in seconds; one still retrying after this is in the silent retry
// loop the test exists to catch, and its request count fails the test.
const wrongTokenBound = 90 * time.Second

// exec runs the program in the work directory with the run's environment plus extra, killing its
// whole process group when it outlives hangBound.
func (r *agentRun) exec(t *testing.T, extra []string, name string, args ...string) result {
	t.Helper()
	bound := cmp.Or(r.bound, hangBound)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = r.work
	cmd.Env = append(append([]string(nil), r.env...), extra...)
	cmd.Stdin = nil // /dev/null: Codex reads a piped stdin as more prompt
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	res := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.exit = -1
		t.Errorf("%s did not finish within %v (killed)", filepath.Base(name), bound)
	case errors.As(err, &ee):
		res.exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func (e *env) bin(name string) string { return filepath.Join(e.tools, "node_modules", ".bin", name) }

// claude runs `claude ARGS` pointed at Polydev with token, as the README tells users to.
func (e *env) claude(t *testing.T, r *agentRun, token string, args ...string) result {
	t.Helper()
	return r.exec(t, []string{
		"ANTHROPIC_BASE_URL=" + e.tap.URL, "ANTHROPIC_API_KEY=" + token,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "DISABLE_TELEMETRY=1", "DISABLE_AUTOUPDATER=1",
		"DISABLE_ERROR_REPORTING=1",
	}, e.bin("claude"), args...)
}

// codexConfig is the config.toml the README gives for Codex, with Polydev at base.
func codexConfig(base string) string {
	return `model_provider = "polydev"
check_for_update_on_startup = false

[model_providers.polydev]
name = "Polydev"
base_url = "` + base + `/v1"
env_key = "POLYDEV_API_KEY"
wire_api = "responses"

[analytics]
enabled = false

[feedback]
enabled = false

# The curated plugin sync fetches from GitHub and chatgpt.com at start.
[features]
plugins = false
remote_plugin = false
`
}

// codex runs `codex exec --skip-git-repo-check ARGS` with Polydev as its model provider.
func (e *env) codex(t *testing.T, r *agentRun, token string, args ...string) result {
	t.Helper()
	cfg := filepath.Join(r.home, ".codex", "config.toml")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(codexConfig(e.tap.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	return r.exec(t, []string{"POLYDEV_API_KEY=" + token},
		e.bin("codex"), append([]string{"exec", "--skip-git-repo-check"}, args...)...)
}

// geminiSettings is the settings.json the README gives for Gemini CLI.
const geminiSettings = `{
  "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false},
  "privacy": {"usageStatisticsEnabled": false},
  "telemetry": {"enabled": false},
  "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": false}}
}
`

// gemini runs `gemini ARGS` pointed at Polydev.
func (e *env) geminiCLI(t *testing.T, r *agentRun, token string, args ...string) result {
	t.Helper()
	cfg := filepath.Join(r.home, ".gemini", "settings.json")
	if err := os.MkdirAll(filepath.Dir(cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(geminiSettings), 0o600); err != nil {
		t.Fatal(err)
	}
	return r.exec(t, []string{
		"GEMINI_API_KEY=" + token, "GOOGLE_GEMINI_BASE_URL=" + e.tap.URL,
		"GEMINI_TELEMETRY_ENABLED=false", "GEMINI_CLI_NO_RELAUNCH=true",
	}, e.bin("node"), append([]string{e.bin("gemini")}, args...)...)
}

// wantSuccess fails the test unless the run exited 0 printing text.
func wantSuccess(t *testing.T, res result, text string) {
	t.Helper()
	if res.exit != 0 || !strings.Contains(res.stdout, text) {
		t.Fatalf("want exit 0 and %q on stdout, got %s", text, res)
	}
}
