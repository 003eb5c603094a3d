package testkit

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StripeMock returns the base URL of a stripe-mock server on loopback (Stripe's own mock of its
// API, answering every documented endpoint with fixture objects), for billing tests:
//
//   - POLYDEV_STRIPE_MOCK_URL: one already running (make test starts one; scripts/stripemock.sh);
//   - else POLYDEV_STRIPE_MOCK, or stripe-mock on PATH: started once per test binary on
//     127.0.0.1 with a free port, stopped when the process exits;
//   - else the test skips, unless POLYDEV_REQUIRE_STRIPE_MOCK is set (make test sets it), when it
//     fails: those tests must not skip silently in CI.
func StripeMock(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("POLYDEV_STRIPE_MOCK_URL"); u != "" {
		return u
	}
	stripeMock.once.Do(startStripeMock)
	if stripeMock.err != "" {
		if os.Getenv("POLYDEV_REQUIRE_STRIPE_MOCK") != "" {
			t.Fatalf("stripe-mock is required (POLYDEV_REQUIRE_STRIPE_MOCK) but %s", stripeMock.err)
		}
		t.Skipf("stripe-mock is not available (%s): install it with `go install github.com/stripe/stripe-mock@v0.203.0` or run make test", stripeMock.err)
	}
	return stripeMock.url
}

var stripeMock struct {
	once sync.Once
	url  string
	err  string
}

var stripeMockAddr = regexp.MustCompile(`Listening for HTTP at address: (127\.0\.0\.1:[0-9]+)`)

func startStripeMock() {
	bin := os.Getenv("POLYDEV_STRIPE_MOCK")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("stripe-mock"); err != nil {
			stripeMock.err = "neither POLYDEV_STRIPE_MOCK_URL nor POLYDEV_STRIPE_MOCK is set and stripe-mock is not on PATH"
			return
		}
	}
	// Both listeners on loopback with free ports: stripe-mock would otherwise also serve HTTPS on
	// every interface.
	cmd := exec.CommandContext(context.Background(), bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	// The kernel ends it with the test binary (Pdeathsig follows the forking thread, and the Go
	// runtime keeps its threads).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		stripeMock.err = err.Error()
		return
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		stripeMock.err = "starting " + bin + ": " + err.Error()
		return
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := stripeMockAddr.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case addr := <-found:
		stripeMock.url = "http://" + addr
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		stripeMock.err = bin + " did not say where it listens within a minute"
	}
}
