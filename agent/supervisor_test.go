package agent

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestStartsInOrderGatedByReadiness(t *testing.T) {
	t.Parallel()
	gate := tempFile(t, "first-ready")
	first := helperSpec(t, "first", "listen", "AGENT_TEST_ADDR="+freeAddr(t))
	first.Ready = FileExists(gate)
	ev := newEvents()
	s := newSupervisor(t, Config{Specs: []Spec{first, listenSpec(t, "second"), listenSpec(t, "third")}, OnChange: ev.hook})

	ev.waitFor(t, "first", StateStarting)
	for _, name := range []string{"second", "third"} {
		if st, _ := s.Snapshot().Child(name); st.State != StatePending {
			t.Fatalf("%s is %s while first is not ready, want pending", name, st.State)
		}
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	ev.mu.Lock()
	var seq []string
	for _, st := range ev.all {
		if st.State == StateStarting || st.State == StateReady {
			seq = append(seq, st.Name+":"+string(st.State))
		}
	}
	ev.mu.Unlock()
	want := []string{"first:starting", "first:ready", "second:starting", "second:ready", "third:starting", "third:ready"}
	if !slices.Equal(seq, want) {
		t.Fatalf("order = %v, want %v", seq, want)
	}
}

func TestRestartsCrashedChild(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	sp := helperSpec(t, "flaky", "crash-once", "AGENT_TEST_ADDR="+addr, "AGENT_TEST_MARKER="+tempFile(t, "crashed"))
	sp.Ready = TCPPort(addr)
	sp.Restart = RestartPolicy{Backoff: 7 * time.Millisecond}
	sleep, slept := recordSleep(0)
	s := newSupervisor(t, Config{Specs: []Spec{sp}, Sleep: sleep})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Snapshot().Child("flaky")
	if st.Restarts != 1 || st.LastError == "" {
		t.Fatalf("status = %+v, want one restart with the crash recorded", st)
	}
	if got := slept(); !slices.Equal(got, []time.Duration{7 * time.Millisecond}) {
		t.Fatalf("backoffs = %v", got)
	}
}

func TestRestartRateLimitFailsChild(t *testing.T) {
	t.Parallel()
	sp := helperSpec(t, "broken", "exit")
	sp.Ready = FileExists(tempFile(t, "never")) // so it dies before it counts as ready
	sp.Restart = RestartPolicy{Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, MaxRestarts: 4, Window: time.Hour}
	frozen := time.Unix(1_800_000_000, 0)
	sleep, slept := recordSleep(0)
	s := newSupervisor(t, Config{Specs: []Spec{sp, listenSpec(t, "after")}, Sleep: sleep, Now: func() time.Time { return frozen }})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.WaitReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "broken failed") {
		t.Fatalf("WaitReady = %v, want broken failed", err)
	}
	snap := s.Snapshot()
	if st, _ := snap.Child("broken"); st.State != StateFailed || st.Restarts != 4 {
		t.Fatalf("broken = %+v", st)
	}
	if st, _ := snap.Child("after"); st.State != StatePending {
		t.Fatalf("after = %s, want pending behind a failed child", st.State)
	}
	ms := time.Millisecond
	if got := slept(); !slices.Equal(got, []time.Duration{10 * ms, 20 * ms, 40 * ms, 40 * ms}) {
		t.Fatalf("backoffs = %v", got)
	}
}

func TestCrashesOutsideWindowDoNotAccumulate(t *testing.T) {
	t.Parallel()
	sp := helperSpec(t, "slowcrash", "exit")
	sp.Restart = RestartPolicy{Backoff: 10 * time.Millisecond, MaxRestarts: 1, Window: time.Minute}
	now := time.Unix(1_800_000_000, 0)
	var clock = func() time.Time { now = now.Add(2 * time.Minute); return now } // only the child's goroutine calls it after start
	sleep, slept := recordSleep(5)
	ev := newEvents()
	newSupervisor(t, Config{Specs: []Spec{sp}, Sleep: sleep, Now: clock, OnChange: ev.hook})

	ev.waitFor(t, "slowcrash", StateStopped)
	want := slices.Repeat([]time.Duration{10 * time.Millisecond}, 5)
	if got := slept(); !slices.Equal(got, want) {
		t.Fatalf("backoffs = %v, want %v (never failed, never grown)", got, want)
	}
}

func TestStopKillsWholeGroup(t *testing.T) {
	t.Parallel()
	pidFile := tempFile(t, "pid")
	// The shell and its background sleep both ignore SIGTERM, so only the SIGKILL after the grace
	// period can end them; the sleep is a grandchild, reachable only through the process group.
	sp := Spec{Name: "stubborn", Path: "/bin/sh",
		Args:  []string{"-c", `trap "" TERM; sleep 1000 & echo $! > "$0.tmp"; mv "$0.tmp" "$0"; wait`, pidFile},
		Ready: FileExists(pidFile)}
	s := newSupervisor(t, Config{Specs: []Spec{sp}, GracePeriod: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := s.Snapshot().Child("stubborn")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	grandchild, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	for _, pid := range []int{st.PID, grandchild} {
		if !eventually(func() bool { return !alive(pid) }) {
			t.Errorf("pid %d still alive after Stop", pid)
		}
	}
	if st, _ := s.Snapshot().Child("stubborn"); st.State != StateStopped {
		t.Errorf("state = %s, want stopped", st.State)
	}
}

// eventually polls cond as a hang guard (a SIGKILLed process takes a moment to go), not a timing test.
func eventually(cond func() bool) bool {
	for range 500 {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// alive reports whether pid is a live (not zombie) process. A reparented grandchild may linger as a
// zombie when the test's PID 1 does not reap; it is dead all the same.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestNewRejectsBadSpecs(t *testing.T) {
	t.Parallel()
	for name, specs := range map[string][]Spec{
		"none":      nil,
		"no path":   {{Name: "a"}},
		"duplicate": {{Name: "a", Path: "x"}, {Name: "a", Path: "y"}},
	} {
		if _, err := New(Config{Specs: specs}); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestPreStartRunsBeforeEveryStartAndItsFailureIsACrash(t *testing.T) {
	t.Parallel()
	calls := 0
	sp := helperSpec(t, "prepped", "listen", "AGENT_TEST_ADDR="+freeAddr(t))
	sp.Restart = RestartPolicy{MaxRestarts: 2, Window: time.Hour}
	sp.PreStart = func() error { calls++; return os.ErrPermission } // only the child's goroutine calls it
	sleep, slept := recordSleep(0)
	s := newSupervisor(t, Config{Specs: []Spec{sp}, Sleep: sleep})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("WaitReady = %v", err)
	}
	s.Stop()
	if calls != 3 || len(slept()) != 2 {
		t.Fatalf("PreStart calls = %d, backoffs = %v; want 3 and 2", calls, slept())
	}
}
