package agent

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the fake child: with AGENT_TEST_CHILD set it runs a helper mode instead
// of the tests.
func TestMain(m *testing.M) {
	if IsOpener(os.Args[0]) { // the login runner's browser helper, linked to this binary
		os.Exit(RunOpener(os.Args[1:], os.Getenv, os.Stderr))
	}
	if len(os.Args) == 4 && os.Args[1] == WebsockifyCommand { // the stack's relay child (websockify_test.go)
		ln, err := net.Listen("tcp", os.Args[2])
		if err != nil {
			os.Exit(4)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		if err := ServeWebsockify(ctx, ln, os.Args[3], slog.New(slog.DiscardHandler)); err != nil {
			os.Exit(5)
		}
		return
	}
	if mode := os.Getenv("AGENT_TEST_CHILD"); mode != "" {
		runHelper(mode)
		return
	}
	os.Exit(m.Run())
}

func runHelper(mode string) {
	switch mode {
	case "exit":
		os.Exit(3)
	case "crash-once":
		marker := os.Getenv("AGENT_TEST_MARKER")
		if _, err := os.Stat(marker); err != nil {
			_ = os.WriteFile(marker, nil, 0o600)
			os.Exit(1)
		}
		listen()
	case "listen":
		listen()
	default:
		if loginHelper(mode) {
			return
		}
	}
	os.Exit(2)
}

// listen serves TCP on AGENT_TEST_ADDR until killed.
func listen() {
	ln, err := net.Listen("tcp", os.Getenv("AGENT_TEST_ADDR"))
	if err != nil {
		os.Exit(4)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			os.Exit(5)
		}
		_ = c.Close()
	}
}

// helperSpec is a child running the test binary in the given mode.
func helperSpec(t *testing.T, name, mode string, env ...string) Spec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Spec{Name: name, Path: exe, Env: append([]string{"AGENT_TEST_CHILD=" + mode}, env...)}
}

// listenSpec is a helper child that is ready when its TCP port answers.
func listenSpec(t *testing.T, name string) Spec {
	addr := freeAddr(t)
	sp := helperSpec(t, name, "listen", "AGENT_TEST_ADDR="+addr)
	sp.Ready = TCPPort(addr)
	return sp
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// events records state changes for the test to wait on.
type events struct {
	mu  sync.Mutex
	all []Status
	ch  chan Status
}

func newEvents() *events { return &events{ch: make(chan Status, 1000)} }

func (e *events) hook(st Status) {
	e.mu.Lock()
	e.all = append(e.all, st)
	e.mu.Unlock()
	e.ch <- st
}

// waitFor consumes events until name reaches state.
func (e *events) waitFor(t *testing.T, name string, state State) Status {
	t.Helper()
	timeout := time.After(30 * time.Second) // a hang guard, not a timing assertion
	for {
		select {
		case st := <-e.ch:
			if st.Name == name && st.State == state {
				return st
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s to be %s", name, state)
		}
	}
}

// newSupervisor starts a supervisor with fast test settings and stops it at cleanup.
func newSupervisor(t *testing.T, cfg Config) *Supervisor {
	t.Helper()
	cfg.PollInterval = 5 * time.Millisecond
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.GracePeriod = cmpDur(cfg.GracePeriod, 2*time.Second)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	t.Cleanup(s.Stop)
	return s
}

func cmpDur(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// recordSleep returns a Sleep hook that records the backoffs and returns at once; after limit calls
// (0: no limit) it returns errEnough, which ends the child's loop.
func recordSleep(limit int) (func(context.Context, time.Duration) error, func() []time.Duration) {
	var mu sync.Mutex
	var got []time.Duration
	return func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, d)
			if limit > 0 && len(got) >= limit {
				return errEnough
			}
			return nil
		}, func() []time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return append([]time.Duration(nil), got...)
		}
}

var errEnough = errors.New("enough")

func tempFile(t *testing.T, name string) string { return filepath.Join(t.TempDir(), name) }
