package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	t.Parallel()
	stack := func(states ...State) []Status {
		names := []string{ChildDisplay, ChildBrowser, ChildVNC, ChildWebsockify}
		var out []Status
		for i, s := range states {
			out = append(out, Status{Name: names[i], State: s})
		}
		return out
	}
	r, p, b, f := StateReady, StatePending, StateBackoff, StateFailed
	tests := []struct {
		name                    string
		snap                    Snapshot
		status                  string
		display, browser, novnc bool
	}{
		{"booting", Snapshot{Children: stack(r, StateStarting, p, p)}, HealthStarting, true, false, false},
		{"all ready", Snapshot{Children: stack(r, r, r, r), BroughtUp: true}, HealthHealthy, true, true, true},
		{"browser lost", Snapshot{Children: stack(r, b, r, r), BroughtUp: true}, HealthDegraded, true, false, true},
		{"vnc lost", Snapshot{Children: stack(r, r, b, r), BroughtUp: true}, HealthDegraded, true, true, false},
		{"failed during boot", Snapshot{Children: stack(f, p, p, p)}, HealthDegraded, false, false, false},
	}
	for _, tt := range tests {
		got := Report(tt.snap)
		if got.Status != tt.status || got.Display != tt.display || got.Browser != tt.browser || got.NoVNC != tt.novnc {
			t.Errorf("%s: got %+v", tt.name, got)
		}
	}
}

// TestHealthFollowsStack drives the real supervisor with fake children named like the golden stack:
// starting, then healthy, degraded while the browser is down, healthy again after its restart.
func TestHealthFollowsStack(t *testing.T) {
	t.Parallel()
	gate := tempFile(t, "display-ready")
	display := helperSpec(t, ChildDisplay, "listen", "AGENT_TEST_ADDR="+freeAddr(t))
	display.Ready = FileExists(gate)
	specs := []Spec{display, listenSpec(t, ChildBrowser), listenSpec(t, ChildVNC), listenSpec(t, ChildWebsockify)}

	// Once the test has killed the browser, its backoff is held until the test has looked. Before
	// that, a backoff returns at once: a child whose port was taken between freeAddr and its listen
	// (another test's socket) restarts instead of waiting for a release that only comes later.
	var hold atomic.Bool
	release := make(chan struct{})
	sleep := func(ctx context.Context, d time.Duration) error {
		if !hold.Load() {
			return nil
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ev := newEvents()
	s := newSupervisor(t, Config{Specs: specs, Sleep: sleep, OnChange: ev.hook})
	srv := httptest.NewServer(NewHandler(s, Endpoints{}, nil))
	defer srv.Close()

	ev.waitFor(t, ChildDisplay, StateStarting)
	expectHealth(t, srv.URL, HealthStarting, http.StatusServiceUnavailable, false, false, false)

	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, ChildWebsockify, StateReady)
	expectHealth(t, srv.URL, HealthHealthy, http.StatusOK, true, true, true)

	browser, _ := s.Snapshot().Child(ChildBrowser)
	hold.Store(true)
	if err := syscall.Kill(browser.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, ChildBrowser, StateBackoff)
	expectHealth(t, srv.URL, HealthDegraded, http.StatusServiceUnavailable, true, false, true)

	close(release)
	ev.waitFor(t, ChildBrowser, StateReady)
	expectHealth(t, srv.URL, HealthHealthy, http.StatusOK, true, true, true)
	if st, _ := s.Snapshot().Child(ChildBrowser); st.Restarts != browser.Restarts+1 {
		t.Fatalf("browser restarts = %d, want %d", st.Restarts, browser.Restarts+1)
	}
}

func expectHealth(t *testing.T, base, status string, readyCode int, display, browser, novnc bool) {
	t.Helper()
	var got HealthReport
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: %d %v", resp.StatusCode, err)
	}
	if got.Status != status || got.Display != display || got.Browser != browser || got.NoVNC != novnc {
		t.Fatalf("/health = %+v, want %s display=%v browser=%v novnc=%v", got, status, display, browser, novnc)
	}
	ready, err := http.Get(base + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	ready.Body.Close()
	if ready.StatusCode != readyCode {
		t.Fatalf("/ready = %d, want %d", ready.StatusCode, readyCode)
	}
}
