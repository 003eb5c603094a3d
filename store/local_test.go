package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/pgtest"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/store/postgres"
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

// TestReplicaStoreSuite holds the replica limiter (leases) to the same suite, on SQLite; the
// PostgreSQL run is in store/postgres.
func TestReplicaStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) polydev.Store {
		return store.NewReplica(openSQLite(t), "suite")
	})
}

func must(t testing.TB, err error) {
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

// usageEngines opens each engine the usage batch code serves: the database alone (SQLite and, with
// a test server, PostgreSQL, where reservations are rows) and the single-node limiter on SQLite
// (reservations in memory).
func usageEngines(t testing.TB) map[string]func(testing.TB) polydev.Store {
	return map[string]func(testing.TB) polydev.Store{
		"sqlite": func(t testing.TB) polydev.Store { return openSQLite(t) },
		"local":  func(t testing.TB) polydev.Store { return store.NewLocal(openSQLite(t)) },
		"postgres": func(t testing.TB) polydev.Store {
			db, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	}
}

func openSQLite(t testing.TB) *store.DB {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "polydev.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestUsageBatch: one batch of 103 records (several multi-row statements), holding records stored
// by an earlier batch, a record twice, an interrupted record whose request already settled, and
// records without a key or a reservation. Every new record is stored and charged once, every
// reservation given back once, and nothing else.
func TestUsageBatch(t *testing.T) {
	t.Parallel()
	for name, open := range usageEngines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := t.Context()
			now := time.Now().UTC().Truncate(time.Millisecond)
			budget, conc := polydev.Money(1_000_000), int64(200)
			u := &polydev.User{ID: polydev.NewID(), Email: "b@example.com", PasswordHash: "x", Role: polydev.RoleUser, Tier: polydev.TierPlus, CreatedAt: now, UpdatedAt: now}
			must(t, s.CreateUser(ctx, u))
			key := &polydev.ProviderKey{ID: polydev.NewID(), UserID: u.ID, Provider: polydev.ProviderOpenAI, Name: "k", Secret: []byte{1},
				DEKVersion: 1, Preview: "abcd", Active: true, MonthlyBudget: &budget, MaxConcurrent: &conc, CreatedAt: now, UpdatedAt: now}
			must(t, s.CreateProviderKey(ctx, key))
			rec := func(i int) *polydev.UsageRecord {
				res := &polydev.Reservation{ID: polydev.NewID(), KeyID: key.ID, UserID: u.ID, Amount: 5000, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
				must(t, s.Reserve(ctx, res, now))
				return &polydev.UsageRecord{ID: polydev.NewID(), UserID: u.ID, KeyID: key.ID, Provider: polydev.ProviderOpenAI, Model: "openai/gpt-4o-mini",
					Surface: "openai", Status: polydev.UsageOK, HTTPStatus: 200, InputTokens: int64(i), OutputTokens: 1, Cost: polydev.Money(100 + i),
					CreatedAt: now, ReservationID: res.ID}
			}
			var first []*polydev.UsageRecord
			for i := range 3 {
				first = append(first, rec(i))
			}
			must(t, s.InsertUsage(ctx, first))
			wantCost, wantN, wantIn := int64(0), int64(0), int64(0)
			for _, r := range first {
				wantCost, wantN, wantIn = wantCost+int64(r.Cost), wantN+1, wantIn+r.InputTokens
			}

			settled := rec(1000) // its request settled first: the sweeper's interrupted copy must not count
			must(t, s.InsertUsage(ctx, []*polydev.UsageRecord{settled}))
			wantCost, wantN, wantIn = wantCost+int64(settled.Cost), wantN+1, wantIn+settled.InputTokens
			interrupted := *settled
			interrupted.ID, interrupted.Status, interrupted.Cost = polydev.NewID(), polydev.UsageInterrupted, 77

			batch := append([]*polydev.UsageRecord{}, first...) // a retry of the first batch
			batch = append(batch, &interrupted)
			for i := range 96 {
				r := rec(10 + i)
				if i%10 == 0 {
					must(t, s.Release(ctx, r.ReservationID)) // a request whose reservation was released first
					r.ReservationID = ""
				}
				batch = append(batch, r)
				wantCost, wantN, wantIn = wantCost+int64(r.Cost), wantN+1, wantIn+r.InputTokens
			}
			noKey := &polydev.UsageRecord{ID: polydev.NewID(), UserID: u.ID, Provider: polydev.ProviderOpenAI, Model: "openai/x", Surface: "openai",
				Status: polydev.UsageError, HTTPStatus: 400, CreatedAt: now}
			batch = append(batch, noKey, batch[10], batch[50]) // and two records twice in the batch
			must(t, s.InsertUsage(ctx, batch))

			k, err := s.ProviderKeyFor(ctx, u.ID, key.ID)
			must(t, err)
			if int64(k.Usage.SpendThisMonth(now)) != wantCost || k.Usage.TotalRequests != wantN || k.Usage.InputTokens != wantIn || k.Usage.OutputTokens != wantN {
				t.Fatalf("key usage %+v; want spend %d, %d requests, %d input tokens", k.Usage, wantCost, wantN, wantIn)
			}
			list, err := s.ListUsage(ctx, u.ID, time.Time{}, 1000)
			must(t, err)
			if len(list) != int(wantN)+1 { // + the keyless record
				t.Fatalf("%d records stored, want %d", len(list), wantN+1)
			}
			// Every reservation was given back: the rest of the budget and every concurrency slot
			// are free again, and not one unit more.
			left := budget - polydev.Money(wantCost)
			for i := range conc {
				amount := polydev.Money(0)
				if i == 0 {
					amount = left
				}
				must(t, s.Reserve(ctx, &polydev.Reservation{ID: polydev.NewID(), KeyID: key.ID, UserID: u.ID, Amount: amount, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, now))
			}
			if err := s.Reserve(ctx, &polydev.Reservation{ID: polydev.NewID(), KeyID: key.ID, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, now); limitOf(err) == "" {
				t.Fatalf("reservation past the concurrency limit: %v", err)
			}
		})
	}
}

// BenchmarkInsertUsage measures one usage batch of each size (per record: ns/op ÷ size), with
// reservations held as the gateway holds them.
func BenchmarkInsertUsage(b *testing.B) {
	for _, name := range []string{"local", "postgres"} {
		for _, size := range []int{1, 16, 64, 256} {
			b.Run(fmt.Sprintf("%s/%d", name, size), func(b *testing.B) {
				s := usageEngines(b)[name](b)
				ctx := context.Background()
				now := time.Now().UTC()
				u := &polydev.User{ID: polydev.NewID(), Email: "b@example.com", PasswordHash: "x", Role: polydev.RoleUser, Tier: polydev.TierPlus, CreatedAt: now, UpdatedAt: now}
				must(b, s.CreateUser(ctx, u))
				key := &polydev.ProviderKey{ID: polydev.NewID(), UserID: u.ID, Provider: polydev.ProviderOpenAI, Name: "k", Secret: []byte{1},
					DEKVersion: 1, Preview: "abcd", Active: true, CreatedAt: now, UpdatedAt: now}
				must(b, s.CreateProviderKey(ctx, key))
				batch := make([]*polydev.UsageRecord, size)
				for b.Loop() {
					b.StopTimer()
					for i := range batch {
						res := &polydev.Reservation{ID: polydev.NewID(), KeyID: key.ID, UserID: u.ID, Amount: 5000, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
						must(b, s.Reserve(ctx, res, now))
						batch[i] = &polydev.UsageRecord{ID: polydev.NewTimeID(time.Now()), UserID: u.ID, KeyID: key.ID, Provider: polydev.ProviderOpenAI, Model: "openai/gpt-4o-mini",
							Surface: "openai", Status: polydev.UsageOK, HTTPStatus: 200, InputTokens: 12, OutputTokens: 7, Cost: 100, CreatedAt: now, ReservationID: res.ID}
					}
					b.StartTimer()
					must(b, s.InsertUsage(ctx, batch))
				}
			})
		}
	}
}

// TestLocalJournaledFreesTheSlot: a journaled record frees its request's concurrency slot at once,
// keeps its amount reserved until stored, and storing it later gives the slot back only once.
func TestLocalJournaledFreesTheSlot(t *testing.T) {
	conc, budget := int64(1), polydev.Money(1000)
	f, db := newLocalFixture(t, func(k *polydev.ProviderKey) { k.MaxConcurrent, k.MonthlyBudget = &conc, &budget })
	defer db.Close()
	l := store.NewLocal(db)
	ctx, now := t.Context(), time.Now().UTC()

	r1 := f.reservation(600, now)
	must(t, l.Reserve(ctx, r1, now))
	if err := l.Reserve(ctx, f.reservation(1, now), now); limitOf(err) != "concurrency" {
		t.Fatalf("second request while the first runs: %v, want the concurrency limit", err)
	}
	rec1 := f.record(r1, 100, now)
	l.Journaled(rec1)
	l.Journaled(rec1) // told twice: still one slot
	// The slot is free, the 600 still reserved: 600 + 500 > 1000.
	if err := l.Reserve(ctx, f.reservation(500, now), now); limitOf(err) != "monthly_budget" {
		t.Fatalf("after the first ended: %v, want the budget (its reservation is held until stored)", err)
	}
	r2 := f.reservation(300, now)
	must(t, l.Reserve(ctx, r2, now))
	must(t, l.InsertUsage(ctx, []*polydev.UsageRecord{rec1}))
	// Stored: spend 100, r2 holds 300 and the only slot.
	if err := l.Reserve(ctx, f.reservation(1, now), now); limitOf(err) != "concurrency" {
		t.Fatalf("storing the journaled record freed a second slot: %v", err)
	}
	must(t, l.Release(ctx, r2.ID))
	must(t, l.Reserve(ctx, f.reservation(900, now), now)) // 100 spent + 900 = the budget
}

// TestLocalBarrierBeforeUsageReads: reads of usage wait for records on their way first.
func TestLocalBarrierBeforeUsageReads(t *testing.T) {
	f, db := newLocalFixture(t, func(*polydev.ProviderKey) {})
	defer db.Close()
	l := store.NewLocal(db)
	ctx, now := t.Context(), time.Now().UTC()
	var pending []*polydev.UsageRecord
	l.Barrier = func(ctx context.Context) error {
		err := l.InsertUsage(ctx, pending)
		pending = nil
		return err
	}
	pending = append(pending, f.record(nil, 5, now))
	st, err := l.UsageStats(ctx, f.user.ID, now.Add(-time.Hour))
	must(t, err)
	if st.Totals.Requests != 1 {
		t.Fatalf("stats counted %d requests; the record on its way was not stored first", st.Totals.Requests)
	}
	pending = append(pending, f.record(nil, 5, now))
	logs, err := l.RequestLogs(ctx, f.user.ID, "", 10)
	must(t, err)
	pending = append(pending, f.record(nil, 5, now))
	list, err := l.ListUsage(ctx, f.user.ID, time.Time{}, 10)
	must(t, err)
	if len(logs) != 2 || len(list) != 3 {
		t.Fatalf("request logs %d (want 2), usage list %d (want 3)", len(logs), len(list))
	}
	l.Barrier = func(context.Context) error { return errors.New("database is down") }
	if _, err := l.PlatformStats(ctx, now); err == nil {
		t.Fatal("PlatformStats ignored a failed barrier")
	}
}
