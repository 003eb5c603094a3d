package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/store/storetest"
)

// TestLocalStoreSuite holds the single-node limiter to the same suite as every engine.
func TestLocalStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) polydev.Store {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "polydev.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return store.NewLocal(db)
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func limitOf(err error) string {
	if le, ok := errors.AsType[*polydev.LimitError](err); ok {
		return le.Limit
	}
	return ""
}

type localFixture struct {
	path string
	user *polydev.User
	key  *polydev.ProviderKey
}

func newLocalFixture(t *testing.T, set func(k *polydev.ProviderKey)) (*localFixture, *store.DB) {
	t.Helper()
	f := &localFixture{path: filepath.Join(t.TempDir(), "polydev.db")}
	db, err := sqlite.Open(t.Context(), f.path)
	must(t, err)
	now := time.Now().UTC().Truncate(time.Millisecond)
	f.user = &polydev.User{ID: polydev.NewID(), Email: "l@example.com", PasswordHash: "x", Role: polydev.RoleUser, Tier: polydev.TierPlus, CreatedAt: now, UpdatedAt: now}
	must(t, db.CreateUser(t.Context(), f.user))
	f.key = &polydev.ProviderKey{ID: polydev.NewID(), UserID: f.user.ID, Provider: polydev.ProviderOpenAI, Name: "k", Secret: []byte{1},
		DEKVersion: 1, Preview: "abcd", Active: true, CreatedAt: now, UpdatedAt: now}
	set(f.key)
	must(t, db.CreateProviderKey(t.Context(), f.key))
	return f, db
}

func (f *localFixture) reservation(amount polydev.Money, now time.Time) *polydev.Reservation {
	return &polydev.Reservation{ID: polydev.NewID(), KeyID: f.key.ID, UserID: f.user.ID, Amount: amount, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func (f *localFixture) record(res *polydev.Reservation, cost polydev.Money, now time.Time) *polydev.UsageRecord {
	r := &polydev.UsageRecord{ID: polydev.NewID(), UserID: f.user.ID, KeyID: f.key.ID, Provider: polydev.ProviderOpenAI, Model: "openai/x",
		Surface: "openai", Status: polydev.UsageOK, HTTPStatus: 200, Cost: cost, CreatedAt: now}
	if res != nil {
		r.ReservationID = res.ID
	}
	return r
}

// TestLocalCrash: a process dies with a reservation in flight. After a restart nothing is reserved,
// the spend is exactly the stored records, and the request counts written with the last batch hold.
func TestLocalCrash(t *testing.T) {
	t.Parallel()
	budget, daily := polydev.Money(1000), int64(3)
	f, db := newLocalFixture(t, func(k *polydev.ProviderKey) { k.MonthlyBudget, k.DailyLimit = &budget, &daily })
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tierDay := int64(3)
	l := store.NewLocal(db)
	r1, r2 := f.reservation(400, now), f.reservation(400, now)
	must(t, l.Reserve(t.Context(), r1, now))
	must(t, l.Reserve(t.Context(), r2, now))
	must(t, l.CountUserRequest(t.Context(), f.user.ID, &tierDay, nil, now))
	must(t, l.CountUserRequest(t.Context(), f.user.ID, &tierDay, nil, now))
	must(t, l.InsertUsage(t.Context(), []*polydev.UsageRecord{f.record(r1, 300, now)}))
	if got := limitOf(l.Reserve(t.Context(), f.reservation(301, now), now)); got != "monthly_budget" {
		t.Fatalf("300 spent + 400 held + 301 admitted (%q)", got)
	}
	must(t, db.Close()) // kill -9: r2 never settles

	db, err := sqlite.Open(t.Context(), f.path)
	must(t, err)
	defer db.Close()
	l = store.NewLocal(db)
	k, err := l.ProviderKeyFor(t.Context(), f.user.ID, f.key.ID)
	must(t, err)
	if k.Usage.SpendThisMonth(now) != 300 || k.Usage.RequestsToday(now) != 2 {
		t.Fatalf("after restart: spend %d, requests today %d; want 300, 2", k.Usage.SpendThisMonth(now), k.Usage.RequestsToday(now))
	}
	if exp, err := l.ExpiredReservations(t.Context(), now.Add(2*time.Hour), 10); err != nil || len(exp) != 0 {
		t.Fatalf("reservations left: %v, %v", exp, err)
	}
	must(t, l.Reserve(t.Context(), f.reservation(700, now), now)) // r2's 400 is not held any more
	if got := limitOf(l.Reserve(t.Context(), f.reservation(0, now), now)); got != "daily_limit" {
		t.Fatalf("the day's counts were lost (%q)", got)
	}
	must(t, l.CountUserRequest(t.Context(), f.user.ID, &tierDay, nil, now))
	if got := limitOf(l.CountUserRequest(t.Context(), f.user.ID, &tierDay, nil, now)); got != "tier_requests_per_day" {
		t.Fatalf("the tier counts were lost (%q)", got)
	}
	var reserved, inFlight int64
	raw, err := sql.Open("sqlite", "file:"+f.path+"?mode=ro")
	must(t, err)
	defer raw.Close()
	must(t, raw.QueryRow(`SELECT month_reserved_micros, in_flight FROM provider_keys`).Scan(&reserved, &inFlight))
	if reserved != 0 || inFlight != 0 {
		t.Fatalf("database holds %d reserved, %d in flight", reserved, inFlight)
	}
}

// TestLocalLimitChanges: a limit changed or a usage reset through the limiter applies at once.
func TestLocalLimitChanges(t *testing.T) {
	t.Parallel()
	budget := polydev.Money(1000)
	f, db := newLocalFixture(t, func(k *polydev.ProviderKey) { k.MonthlyBudget = &budget })
	defer db.Close()
	l := store.NewLocal(db)
	now := time.Now()
	r := f.reservation(600, now)
	must(t, l.Reserve(t.Context(), r, now))
	must(t, l.InsertUsage(t.Context(), []*polydev.UsageRecord{f.record(r, 600, now)}))
	lower := polydev.Money(700)
	f.key.MonthlyBudget = &lower
	must(t, l.UpdateProviderKey(t.Context(), f.key))
	if got := limitOf(l.Reserve(t.Context(), f.reservation(200, now), now)); got != "monthly_budget" {
		t.Fatalf("lowered budget not applied (%q)", got)
	}
	must(t, l.ResetProviderKeyUsage(t.Context(), f.user.ID, f.key.ID, now))
	must(t, l.Reserve(t.Context(), f.reservation(700, now), now))
	f.key.Active = false
	must(t, l.UpdateProviderKey(t.Context(), f.key))
	if err := l.Reserve(t.Context(), f.reservation(0, now), now); polydev.ErrorCode(err) != polydev.ENOTFOUND {
		t.Fatalf("deactivated key: %v", err)
	}
}

// TestLocalSettleUnderConcurrency: requests reserve and settle concurrently, each costing what it
// reserved; the spend ends exactly at admitted × cost, never above the budget.
func TestLocalSettleUnderConcurrency(t *testing.T) {
	t.Parallel()
	budget := polydev.Money(40 * 100)
	f, db := newLocalFixture(t, func(k *polydev.ProviderKey) { k.MonthlyBudget = &budget })
	defer db.Close()
	l := store.NewLocal(db)
	now := time.Now()
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				r := f.reservation(100, now)
				err := l.Reserve(context.Background(), r, now)
				if err != nil {
					if polydev.ErrorCode(err) != polydev.EPAYMENT {
						t.Error(err)
					}
					continue
				}
				ok.Add(1)
				if err := l.InsertUsage(context.Background(), []*polydev.UsageRecord{f.record(r, 100, now)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	k, err := l.ProviderKeyFor(t.Context(), f.user.ID, f.key.ID)
	must(t, err)
	if ok.Load() != 40 || k.Usage.SpendThisMonth(now) != 4000 || k.Usage.RequestsToday(now) != 40 {
		t.Fatalf("admitted %d, spend %d, requests %d; budget for 40", ok.Load(), k.Usage.SpendThisMonth(now), k.Usage.RequestsToday(now))
	}
}
