package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func limitKey(t *testing.T, s polydev.Store, u *polydev.User, set func(k *polydev.ProviderKey)) *polydev.ProviderKey {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	k := &polydev.ProviderKey{ID: polydev.NewID(), UserID: u.ID, Provider: polydev.ProviderOpenAI, Name: "limited", Secret: []byte{1},
		DEKVersion: 1, Preview: "abcd", Active: true, CreatedAt: now, UpdatedAt: now}
	set(k)
	must(t, s.CreateProviderKey(ctx(t), k))
	return k
}

func reservation(k *polydev.ProviderKey, amount polydev.Money, now time.Time) *polydev.Reservation {
	return &polydev.Reservation{ID: polydev.NewID(), KeyID: k.ID, UserID: k.UserID, Amount: amount, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func limitOf(t *testing.T, err error) string {
	t.Helper()
	le, ok := errors.AsType[*polydev.LimitError](err)
	if !ok {
		t.Fatalf("error %v is not a *LimitError", err)
	}
	return le.Limit
}

func testReserveBudget(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	budget := polydev.Money(1000)
	k := limitKey(t, s, u, func(k *polydev.ProviderKey) { k.MonthlyBudget = &budget })
	now := time.Now()
	a, b := reservation(k, 600, now), reservation(k, 600, now)
	must(t, s.Reserve(ctx(t), a, now))
	err := s.Reserve(ctx(t), b, now)
	if limitOf(t, err) != "monthly_budget" || polydev.ErrorCode(err) != polydev.EPAYMENT {
		t.Fatalf("second reservation: %v", err)
	}
	// Settling a at its real cost (300) frees the rest of its reservation.
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{{ID: polydev.NewID(), UserID: u.ID, KeyID: k.ID, Provider: "openai", Model: "openai/x",
		Surface: "openai", Status: polydev.UsageOK, Cost: 300, ReservationID: a.ID, CreatedAt: now}}))
	must(t, s.Reserve(ctx(t), b, now))
	c := reservation(k, 200, now)
	if limitOf(t, s.Reserve(ctx(t), c, now)) != "monthly_budget" {
		t.Fatal("300 spent + 600 reserved + 200 must exceed 1000")
	}
	must(t, s.Release(ctx(t), b.ID))
	must(t, s.Release(ctx(t), b.ID)) // twice is harmless
	must(t, s.Reserve(ctx(t), c, now))
	// Counts are stored by the time a usage record is (the single-node limiter writes them with it).
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{{ID: polydev.NewID(), UserID: u.ID, KeyID: k.ID, Provider: "openai", Model: "openai/x",
		Surface: "openai", Status: polydev.UsageOK, ReservationID: c.ID, CreatedAt: now}}))
	got, err := s.ProviderKeyFor(ctx(t), u.ID, k.ID)
	must(t, err)
	if got.Usage.SpendThisMonth(now) != 300 || got.Usage.RequestsToday(now) != 3 {
		t.Fatalf("usage = %+v", got.Usage)
	}
}

func testReserveRequestLimits(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	two, one := int64(2), int64(1)
	now := time.Date(2026, 11, 27, 10, 0, 30, 0, time.UTC)
	daily := limitKey(t, s, u, func(k *polydev.ProviderKey) { k.DailyLimit = &two })
	rpm := limitKey(t, s, u, func(k *polydev.ProviderKey) { k.RateLimitRPM = &two })
	conc := limitKey(t, s, u, func(k *polydev.ProviderKey) { k.MaxConcurrent = &one })

	for range 2 {
		must(t, s.Reserve(ctx(t), reservation(daily, 0, now), now))
		must(t, s.Reserve(ctx(t), reservation(rpm, 0, now), now))
	}
	err := s.Reserve(ctx(t), reservation(daily, 0, now), now)
	if limitOf(t, err) != "daily_limit" || polydev.ErrorCode(err) != polydev.ERATELIMIT {
		t.Fatalf("daily: %v", err)
	}
	// The refusal says how long until the window resets, by the clock the limiter was given.
	if le, _ := errors.AsType[*polydev.LimitError](err); !le.ResetAt.Equal(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)) ||
		le.RetryAfter != 13*time.Hour+59*time.Minute+30*time.Second {
		t.Fatalf("daily reset = %v, retry after %v", le.ResetAt, le.RetryAfter)
	}
	err = s.Reserve(ctx(t), reservation(rpm, 0, now), now)
	if limitOf(t, err) != "rate_limit_rpm" {
		t.Fatal("rpm not enforced")
	}
	if le, _ := errors.AsType[*polydev.LimitError](err); le.RetryAfter != 30*time.Second {
		t.Fatalf("rpm retry after = %v, want the 30 s left in the minute", le.RetryAfter)
	}
	next := now.Add(time.Minute)
	must(t, s.Reserve(ctx(t), reservation(rpm, 0, next), next)) // a new minute
	must(t, s.Reserve(ctx(t), reservation(daily, 0, now.Add(24*time.Hour)), now.Add(24*time.Hour)))

	held := reservation(conc, 0, now)
	must(t, s.Reserve(ctx(t), held, now))
	err = s.Reserve(ctx(t), reservation(conc, 0, now), now)
	if limitOf(t, err) != "concurrency" {
		t.Fatal("concurrency cap not enforced")
	}
	if le, _ := errors.AsType[*polydev.LimitError](err); le.RetryAfter != polydev.ConcurrencyRetryAfter {
		t.Fatalf("concurrency retry after = %v", le.RetryAfter)
	}
	must(t, s.Release(ctx(t), held.ID))
	must(t, s.Reserve(ctx(t), reservation(conc, 0, now), now))

	inactive := limitKey(t, s, u, func(k *polydev.ProviderKey) { k.Active = false })
	if err := s.Reserve(ctx(t), reservation(inactive, 0, now), now); polydev.ErrorCode(err) != polydev.ENOTFOUND {
		t.Fatalf("inactive key: %v", err)
	}
}

// testReserveConcurrent: many concurrent reservations against one budget never take more than it.
func testReserveConcurrent(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	budget := polydev.Money(50 * 100)
	k := limitKey(t, s, u, func(k *polydev.ProviderKey) { k.MonthlyBudget = &budget })
	now := time.Now()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 120 {
		wg.Go(func() {
			err := s.Reserve(ctx(t), reservation(k, 100, now), now)
			if err == nil {
				ok.Add(1)
			} else if polydev.ErrorCode(err) != polydev.EPAYMENT {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 {
		t.Fatalf("%d reservations admitted against a budget for 50", ok.Load())
	}
}

func testExpiredReservations(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	k := limitKey(t, s, u, func(*polydev.ProviderKey) {})
	now := time.Now()
	old := reservation(k, 10, now.Add(-2*time.Hour))
	old.ExpiresAt = now.Add(-time.Hour)
	must(t, s.Reserve(ctx(t), old, now))
	must(t, s.Reserve(ctx(t), reservation(k, 10, now), now))
	exp, err := s.ExpiredReservations(ctx(t), now, 10)
	must(t, err)
	if len(exp) != 1 || exp[0].ID != old.ID || exp[0].Amount != 10 {
		t.Fatalf("expired = %+v", exp)
	}
}

func testUserRequestLimits(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Date(2026, 11, 27, 23, 58, 0, 0, time.UTC)
	day, minute := int64(3), int64(2)
	must(t, s.CountUserRequest(ctx(t), u.ID, &day, &minute, now))
	must(t, s.CountUserRequest(ctx(t), u.ID, &day, &minute, now))
	if limitOf(t, s.CountUserRequest(ctx(t), u.ID, &day, &minute, now)) != "tier_requests_per_minute" {
		t.Fatal("per-minute tier limit not enforced")
	}
	late := now.Add(45 * time.Second) // same minute, 15 s before it ends
	err := s.CountUserRequest(ctx(t), u.ID, &day, &minute, late)
	if le, _ := errors.AsType[*polydev.LimitError](err); le == nil || le.RetryAfter != 15*time.Second {
		t.Fatalf("per-minute refusal %v: want the 15 s left in the minute", err)
	}
	nextMinute := now.Add(time.Minute)
	must(t, s.CountUserRequest(ctx(t), u.ID, &day, &minute, nextMinute)) // the day's third
	err = s.CountUserRequest(ctx(t), u.ID, &day, &minute, nextMinute)
	if limitOf(t, err) != "tier_requests_per_day" {
		t.Fatal("per-day tier limit not enforced")
	}
	if le, _ := errors.AsType[*polydev.LimitError](err); le.RetryAfter != time.Minute {
		t.Fatalf("per-day retry after = %v, want the minute left in the day", le.RetryAfter)
	}
	tomorrow := now.Add(3 * time.Minute)
	must(t, s.CountUserRequest(ctx(t), u.ID, &day, &minute, tomorrow)) // a new day
	must(t, s.CountUserRequest(ctx(t), u.ID, nil, nil, tomorrow))      // unlimited
	zero := int64(0)
	if limitOf(t, s.CountUserRequest(ctx(t), u.ID, &zero, nil, now)) != "tier_requests_per_day" {
		t.Fatal("a zero limit admits requests")
	}
}

// testReserveLimitsConcurrent: concurrent reservations never exceed a key's daily or per-minute limit.
func testReserveLimitsConcurrent(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	daily, rpm := int64(30), int64(20)
	now := time.Date(2026, 11, 27, 12, 0, 10, 0, time.UTC)
	for _, c := range []struct {
		name  string
		limit int64
		set   func(k *polydev.ProviderKey)
	}{
		{"daily", daily, func(k *polydev.ProviderKey) { k.DailyLimit = &daily }},
		{"rpm", rpm, func(k *polydev.ProviderKey) { k.RateLimitRPM = &rpm }},
	} {
		k := limitKey(t, s, u, c.set)
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if err := s.Reserve(ctx(t), reservation(k, 0, now), now); err == nil {
					ok.Add(1)
				} else if polydev.ErrorCode(err) != polydev.ERATELIMIT {
					t.Errorf("%s: unexpected error %v", c.name, err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != c.limit {
			t.Fatalf("%s: %d of 100 concurrent reservations admitted, limit %d", c.name, ok.Load(), c.limit)
		}
	}
}
