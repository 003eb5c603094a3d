package agent

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestRealStack runs the golden image's stack for real when its four programs are installed, on
// loopback ports and a spare display.
func TestRealStack(t *testing.T) {
	if _, err := exec.LookPath("websockify"); err != nil {
		t.Skip("SKIP: websockify not on PATH (this test runs Python's; TestRealStackBuiltinRelay the agent's own)")
	}
	s, _ := startRealStack(t, StackOptions{Display: 190})
	if r := Report(s.Snapshot()); r.Status != HealthHealthy || !r.Display || !r.Browser || !r.NoVNC {
		t.Fatalf("report = %+v", r)
	}
	s.Stop()
}

// startRealStack brings up the stack of o (display, relay command) on loopback ports, a temporary
// profile and Chromium without its sandbox when root, and waits until it is ready. It skips when
// Xvfb, Chromium or x11vnc is missing. It returns the supervisor and the relay's address.
func startRealStack(t *testing.T, o StackOptions) (*Supervisor, string) {
	t.Helper()
	for _, bin := range []string{"Xvfb", "chromium", "x11vnc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skip("SKIP: " + bin + " not on PATH; the real stack needs Xvfb, chromium and x11vnc")
		}
	}
	port := func() int {
		p, _ := strconv.Atoi(freeAddr(t)[len("127.0.0.1:"):])
		return p
	}
	o.ProfileDir, o.DevToolsPort, o.VNCPort = t.TempDir(), port(), port()
	o.WebsockifyListen = net.JoinHostPort("127.0.0.1", strconv.Itoa(port())) // tests stay on loopback
	o.ChromiumNoSandbox = os.Geteuid() == 0
	specs, err := DefaultSpecs(o)
	if err != nil {
		t.Fatal(err)
	}
	s := newSupervisor(t, Config{Specs: specs, GracePeriod: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatalf("stack did not come up: %v; %+v", err, s.Snapshot())
	}
	return s, o.WebsockifyListen
}
