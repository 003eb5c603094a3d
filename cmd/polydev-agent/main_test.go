package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/agent"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "polydev-agent ") {
		t.Fatalf("version output %q", out.String())
	}
}

func TestConfigFlagsWinOverEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"POLYDEV_AGENT_LISTEN":   "127.0.0.1:4000",
		"POLYDEV_AGENT_DISPLAY":  "5",
		"POLYDEV_AGENT_CHROMIUM": "/env/chromium",
		"POLYDEV_AGENT_GRACE":    "2s",
	}
	c, err := parseConfig([]string{"--chromium=/flag/chromium", "--vnc-port=5999"}, func(k string) string { return env[k] }, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:4000" || c.Stack.Display != 5 || c.Stack.ChromiumPath != "/flag/chromium" ||
		c.Stack.VNCPort != 5999 || c.Grace != 2*time.Second || c.Stack.DevToolsPort != 9222 {
		t.Fatalf("config = %+v", c)
	}
	if _, err := parseConfig([]string{"extra"}, func(string) string { return "" }, &bytes.Buffer{}); err == nil {
		t.Fatal("stray argument accepted")
	}
}

// TestRunServesHealthAndStops starts the whole program with programs that do not exist: health must
// answer in the seed's shape while the display keeps failing, and cancelling the context must stop it.
func TestRunServesHealthAndStops(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	missing := t.TempDir() + "/missing"
	args := []string{"--listen=" + addr, "--xvfb=" + missing, "--chromium=" + missing, "--x11vnc=" + missing,
		"--websockify=" + missing, "--cmdline=" + missing, "--state-dir=" + t.TempDir(), "--grace=100ms", "--websockify-listen=127.0.0.1:0"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{}) }()

	var rep agent.HealthReport
	for i := 0; ; i++ { // hang guard while the server comes up, not a timing assertion
		resp, err := http.Get("http://" + addr + "/health")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&rep)
			resp.Body.Close()
			break
		}
		if i == 500 {
			t.Fatalf("health never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rep.Status == agent.HealthHealthy || rep.Display || rep.Browser || rep.NoVNC || len(rep.Children) != 4 {
		t.Fatalf("health = %+v", rep)
	}
	// From guest loopback, as a web page in the guest would call them: refused before any token check.
	for _, path := range []string{"/token", "/credentials", "/login"} {
		resp, err := http.Post("http://"+addr+path, "application/json", strings.NewReader(`{"token":"`+strings.Repeat("a", 40)+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("POST %s from the guest = %d, want 403", path, resp.StatusCode)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
}

func TestGuestNetworkFromCmdline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(t.TempDir(), "cmdline")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	discard := slog.New(slog.DiscardHandler)
	cases := []struct {
		name, flag, cmdline, wantProxy string
	}{
		{"default", "", "console=ttyS0", defaultEgressProxy},
		{"kernel argument", "", "console=ttyS0 polydev.egress=10.0.2.2:8888", "10.0.2.2:8888"},
		{"flag wins", "127.0.0.1:9", "polydev.egress=10.0.2.2:8888", "127.0.0.1:9"},
		{"off", "", "polydev.egress=off", ""},
	}
	for _, c := range cases {
		cfg := config{Cmdline: write(c.cmdline), EgressProxy: c.flag, StateDir: dir}
		env, _, err := guestNetwork(&cfg, discard)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg.Stack.ProxyServer != c.wantProxy {
			t.Fatalf("%s: proxy %q, want %q", c.name, cfg.Stack.ProxyServer, c.wantProxy)
		}
		joined := strings.Join(env, " ")
		if c.wantProxy != "" && (!strings.Contains(joined, "HTTPS_PROXY=http://"+c.wantProxy) || !strings.Contains(joined, "NO_PROXY=localhost,127.0.0.1")) {
			t.Fatalf("%s: env %q", c.name, env)
		}
		if c.wantProxy == "" && joined != "" {
			t.Fatalf("%s: env %q", c.name, env)
		}
	}
	cfg := config{Cmdline: write("polydev.egress=nonsense")}
	if _, _, err := guestNetwork(&cfg, discard); err == nil {
		t.Fatal("a proxy without a port was accepted")
	}
	cfg = config{Cmdline: write("polydev.ca=!!!")}
	if _, _, err := guestNetwork(&cfg, discard); err == nil {
		t.Fatal("a broken CA was accepted")
	}
}

func TestSelftestProviderOnlyWhenTheHostNamesAnIssuer(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "cmdline")
	if err := os.WriteFile(p, []byte("console=ttyS0 polydev.selftest=https://auth.polydev.test:8443"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config{Cmdline: p}
	_, issuer, err := guestNetwork(&cfg, slog.New(slog.DiscardHandler))
	if err != nil || issuer != "https://auth.polydev.test:8443" {
		t.Fatalf("issuer %q, %v", issuer, err)
	}
	prov, err := selftestProvider(issuer)
	if err != nil || prov.Name != "selftest" || prov.CredentialFile != selftestFile ||
		strings.Join(prov.Command[1:], " ") != "selftest-login -issuer https://auth.polydev.test:8443" {
		t.Fatalf("provider %+v, %v", prov, err)
	}
	for _, bad := range []string{"http://auth.test", "https://", "https://a.test/path", "::"} {
		if _, err := selftestProvider(bad); err == nil {
			t.Fatalf("issuer %q accepted", bad)
		}
	}
}
