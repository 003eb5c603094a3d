package agent

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// authorizeHosts is where each CLI's login sends the browser (the providers' documented sign-in
// hosts; the real-VM test checks the same hosts in the egress proxy's log).
var authorizeHosts = map[string][]string{
	ProviderClaudeCode: {"claude.ai", "claude.com", "console.anthropic.com", "platform.claude.com"},
	ProviderCodexCLI:   {"auth.openai.com"},
	ProviderGeminiCLI:  {"accounts.google.com"},
}

// TestRealCLILoginsOpenTheBrowser runs each real CLI's login command, as pinned in the golden image
// (scripts/npmtools.sh installs the same versions), through the runner, inside an empty network
// namespace (so nothing leaves the machine), and checks that the CLI asks the browser helper to open
// its provider's authorize page. It proves the commands, the pty and the helper fit the real CLIs.
func TestRealCLILoginsOpenTheBrowser(t *testing.T) {
	t.Parallel()
	tools := os.Getenv("POLYDEV_NPM_TOOLS")
	if tools == "" {
		if os.Getenv("POLYDEV_REQUIRE_NPM_TOOLS") == "1" {
			t.Fatal("POLYDEV_NPM_TOOLS is not set")
		}
		t.Skip("SKIP: POLYDEV_NPM_TOOLS is not set (make test sets it; or POLYDEV_NPM_TOOLS=$(scripts/npmtools.sh) go test ./agent)")
	}
	if os.Geteuid() != 0 {
		t.Skip("SKIP: an empty network namespace (unshare -n) needs root")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("SKIP: unshare (util-linux) is not installed")
	}
	bin := filepath.Join(tools, "node_modules", ".bin")
	for name, p := range DefaultProviders() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opened := make(chan string, 4)
			var once sync.Once
			p.Command = append([]string{unshare, "-n", "--"}, p.Command...)
			l, err := NewLogin(LoginConfig{
				Providers: map[string]Provider{name: p}, Home: t.TempDir(), PathDirs: []string{bin},
				Open: func(_ context.Context, u string) error { once.Do(func() { opened <- u }); return nil },
				// The CLIs see a display, no telemetry and a proxy nobody listens on.
				Env: []string{"DISPLAY=:99", "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9",
					"DISABLE_AUTOUPDATER=1", "DISABLE_TELEMETRY=1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
					"GEMINI_TELEMETRY_ENABLED=false"},
				Log: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if err := l.Start(t.Context(), LoginRequest{Provider: name}); err != nil {
				t.Fatal(err)
			}
			select {
			case raw := <-opened:
				u, err := url.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				ok := false
				for _, h := range authorizeHosts[name] {
					ok = ok || u.Hostname() == h
				}
				if !ok || u.Scheme != "https" {
					t.Fatalf("%s opened %s://%s%s, want one of %v", name, u.Scheme, u.Host, u.Path, authorizeHosts[name])
				}
				t.Logf("%s opened https://%s%s", name, u.Host, u.Path)
			case <-time.After(3 * time.Minute): // a hang guard, not a timing assertion
				t.Fatalf("%s never opened the browser; status %+v", name, l.Status())
			}
		})
	}
}
