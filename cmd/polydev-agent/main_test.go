package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
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
		"--websockify=" + missing, "--cmdline=" + missing, "--grace=100ms", "--websockify-listen=127.0.0.1:0"}
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
	resp, err := http.Post("http://"+addr+"/credentials", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/credentials without a token = %d, want 404", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
}
