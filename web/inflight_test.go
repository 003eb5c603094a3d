package web

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// TestInflightBounds: requests and bytes per account and bytes per server are all-or-nothing
// bounds, given back exactly once, and every refusal is a 429-class limit error.
func TestInflightBounds(t *testing.T) {
	t.Parallel()
	f := newInflight(2, 100, 150)
	a1, err := f.enter("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := a1.take(80); err != nil {
		t.Fatal(err)
	}
	a2, err := f.enter("a")
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.take(30); !isLimit(err, "body_bytes_in_flight", "your account") {
		t.Fatalf("account bytes: %v", err)
	}
	if _, err := f.enter("a"); !isLimit(err, "requests_in_flight", "your account") {
		t.Fatalf("account requests: %v", err)
	}
	b, _ := f.enter("b")
	if err := b.take(80); !isLimit(err, "body_bytes_in_flight", "this server") {
		t.Fatalf("server bytes: %v", err)
	}
	if err := b.take(70); err != nil {
		t.Fatal(err)
	}
	if n, bytes := f.load(); n != 3 || bytes != 150 {
		t.Fatalf("load %d, %d", n, bytes)
	}
	a1.done()
	a1.done() // twice: harmless
	if err := a2.take(100); err == nil {
		t.Fatal("server bound ignored")
	}
	if err := a2.take(80); err != nil {
		t.Fatal(err)
	}
	a2.done()
	b.done()
	if n, bytes := f.load(); n != 0 || bytes != 0 || len(f.users) != 0 {
		t.Fatalf("left in flight: %d requests, %d bytes, %d accounts", n, bytes, len(f.users))
	}
	if f.fits(101) || !f.fits(100) {
		t.Fatal("fits")
	}

	// Concurrent takers never exceed the bound.
	f = newInflight(1000, 1000, 1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	peak := int64(0)
	for range 50 {
		wg.Go(func() {
			tk, err := f.enter("c")
			if err != nil {
				t.Error(err)
				return
			}
			defer tk.done()
			if tk.take(100) == nil {
				_, b := f.load()
				mu.Lock()
				peak = max(peak, b)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if peak > 1000 {
		t.Fatalf("peak %d over the bound", peak)
	}
}

func isLimit(err error, limit, scope string) bool {
	le, ok := errors.AsType[*polydev.LimitError](err)
	return ok && le.Limit == limit && le.Scope == scope && le.RetryAfter == time.Second && polydev.ErrorCode(err) == polydev.ERATELIMIT
}

// TestRefusalsMemory: a tier limit is remembered until it resets or for a minute at most; other
// errors and other limits are not.
func TestRefusalsMemory(t *testing.T) {
	t.Parallel()
	var f refusals
	now := time.Date(2026, 12, 6, 10, 0, 30, 0, time.UTC)
	day := &polydev.LimitError{Limit: "tier_requests_per_day", Scope: "your tier", ResetAt: polydev.NextDay(now)}
	minute := &polydev.LimitError{Limit: "tier_requests_per_minute", Scope: "your tier", ResetAt: polydev.NextMinute(now)}
	f.note("u", &polydev.Error{Code: polydev.ERATELIMIT, Cause: &polydev.LimitError{Limit: "concurrency", Scope: "key k"}}, now)
	f.note("u", polydev.Errorf(polydev.EINVALID, "x"), now)
	if err := f.check("u", now); err != nil {
		t.Fatalf("remembered a key's limit: %v", err)
	}
	f.note("m", &polydev.Error{Code: polydev.ERATELIMIT, Cause: minute}, now)
	err := f.check("m", now.Add(10*time.Second))
	if le, ok := errors.AsType[*polydev.LimitError](err); !ok || le.RetryAfter != 20*time.Second || polydev.ErrorCode(err) != polydev.ERATELIMIT {
		t.Fatalf("minute limit: %v", err)
	}
	if f.check("m", polydev.NextMinute(now)) != nil {
		t.Fatal("remembered past its reset")
	}
	f.note("d", day, now)
	if f.check("d", now.Add(59*time.Second)) == nil {
		t.Fatal("day limit forgotten within the minute")
	}
	if le, _ := errors.AsType[*polydev.LimitError](f.check("d", now.Add(30*time.Second))); le.ResetAt != day.ResetAt {
		t.Fatalf("the refusal says it resets at %v, want %v", le.ResetAt, day.ResetAt)
	}
	if f.check("d", now.Add(refusalMemory)) != nil {
		t.Fatal("a day limit is trusted for a minute at most (an admin may raise it)")
	}
}

// TestDefaultMaxConns: half the descriptors after a reserve, never below 64.
func TestDefaultMaxConns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		nofile uint64
		want   int
	}{{0, 1024}, {256, 64}, {1024, 384}, {20000, 9872}, {1 << 20, (1<<20 - 256) / 2}, {^uint64(0), (1<<22 - 256) / 2}} {
		if got := defaultMaxConns(c.nofile); got != c.want {
			t.Errorf("defaultMaxConns(%d) = %d, want %d", c.nofile, got, c.want)
		}
	}
	if n := openFileLimit(); n == 0 {
		t.Log("RLIMIT_NOFILE unreadable here")
	}
}
