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
	for _, bin := range []string{"Xvfb", "chromium", "x11vnc", "websockify"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skip("SKIP: " + bin + " not on PATH; the real stack needs Xvfb, chromium, x11vnc and websockify")
		}
	}
	port := func() int {
		p, _ := strconv.Atoi(freeAddr(t)[len("127.0.0.1:"):])
		return p
	}
	specs, err := DefaultSpecs(StackOptions{
		Display:           190,
		ProfileDir:        t.TempDir(),
		DevToolsPort:      port(),
		VNCPort:           port(),
		WebsockifyListen:  net.JoinHostPort("127.0.0.1", strconv.Itoa(port())), // tests stay on loopback
		ChromiumNoSandbox: os.Geteuid() == 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := newSupervisor(t, Config{Specs: specs, GracePeriod: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatalf("stack did not come up: %v; %+v", err, s.Snapshot())
	}
	if r := Report(s.Snapshot()); r.Status != HealthHealthy || !r.Display || !r.Browser || !r.NoVNC {
		t.Fatalf("report = %+v", r)
	}
	s.Stop()
}
