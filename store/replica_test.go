package store_test

import (
	"context"
	"database/sql"
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
)

// sharedDB opens handles to one database, as separate server processes would: raw is a plain
// database/sql handle for reading counters.
type sharedDB struct {
	open func(t testing.TB) *store.DB
	raw  *sql.DB
}

// sharedEngines: each engine with a database several handles share (SQLite: one file; PostgreSQL:
// a fresh database on the test server).
func sharedEngines(t *testing.T) map[string]func(t *testing.T) sharedDB {
	return map[string]func(t *testing.T) sharedDB{
		"sqlite": func(t *testing.T) sharedDB {
			path := filepath.Join(t.TempDir(), "polydev.db")
			raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
			must(t, err)
			t.Cleanup(func() { raw.Close() })
			return sharedDB{raw: raw, open: func(t testing.TB) *store.DB {
				db, err := sqlite.Open(context.Background(), path)
				must(t, err)
				t.Cleanup(func() { db.Close() })
				return db
			}}
		},
		"postgres": func(t *testing.T) sharedDB {
			url := pgtest.URL(t)
			raw, err := sql.Open("pgx", url)
			must(t, err)
			t.Cleanup(func() { raw.Close() })
			return sharedDB{raw: raw, open: func(t testing.TB) *store.DB {
				db, err := postgres.Open(context.Background(), url)
				must(t, err)
				t.Cleanup(func() { db.Close() })
				return db
			}}
		},
	}
}

// newSharedFixture makes a user of tier and one key (set adds its limits) through db.
func newSharedFixture(t *testing.T, db *store.DB, tier polydev.Tier, set func(k *polydev.ProviderKey)) *localFixture {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	f := &localFixture{}
	f.user = &polydev.User{ID: polydev.NewID(), Email: "r@example.com", PasswordHash: "x", Role: polydev.RoleUser, Tier: tier, CreatedAt: now, UpdatedAt: now}
	must(t, db.CreateUser(t.Context(), f.user))
	f.key = &polydev.ProviderKey{ID: polydev.NewID(), UserID: f.user.ID, Provider: polydev.ProviderOpenAI, Name: "k", Secret: []byte{1},
		DEKVersion: 1, Preview: "abcd", Active: true, CreatedAt: now, UpdatedAt: now}
	set(f.key)
	must(t, db.CreateProviderKey(t.Context(), f.key))
	return f
}

type keyCounters struct{ spend, reserved, dayRequests, rpmCount, inFlight int64 }

func readCounters(t *testing.T, raw *sql.DB, keyID string) keyCounters {
	t.Helper()
	var c keyCounters
	must(t, raw.QueryRow(`SELECT month_spend_micros, month_reserved_micros, day_requests, rpm_count, in_flight FROM provider_keys WHERE id = $1`, keyID).
		Scan(&c.spend, &c.reserved, &c.dayRequests, &c.rpmCount, &c.inFlight))
	return c
}

// TestReplicasHoldLimits: two replicas lease from one database while 200 concurrent requests,
// split between them, ask for more than a key's budget, daily limit and concurrency allow. What
// they admit together never exceeds any limit, and once both have stored their records and given
// their leases back the database holds exactly what was used: spend = the records, requests
// counted = the requests admitted, nothing reserved, nothing in flight, no lease row.
func TestReplicasHoldLimits(t *testing.T) {
	t.Parallel()
	for name, open := range sharedEngines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sh := open(t)
			ctx := t.Context()
			now := time.Now().UTC().Truncate(time.Millisecond)
			budget, daily, conc := polydev.Money(50*100), int64(60), int64(30)
			db := sh.open(t)
			f := newSharedFixture(t, db, polydev.TierPlus, func(k *polydev.ProviderKey) {
				k.MonthlyBudget, k.DailyLimit, k.MaxConcurrent = &budget, &daily, &conc
			})
			replicas := []*store.Local{store.NewReplica(db, "a"), store.NewReplica(sh.open(t), "b")}

			var admitted, inFlight, peak atomic.Int64
			var wg sync.WaitGroup
			for i := range 200 {
				l := replicas[i%2]
				wg.Go(func() {
					res := f.reservation(100, now)
					err := l.Reserve(ctx, res, now)
					if err != nil {
						if c := polydev.ErrorCode(err); c != polydev.EPAYMENT && c != polydev.ERATELIMIT {
							t.Errorf("unexpected error %v", err)
						}
						return
					}
					admitted.Add(1)
					n := inFlight.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					time.Sleep(time.Millisecond) // in flight for a while, so that slots are contended
					rec := f.record(res, 100, now)
					inFlight.Add(-1)
					l.Journaled(rec)
					if err := l.InsertUsage(ctx, []*polydev.UsageRecord{rec}); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if admitted.Load() == 0 || admitted.Load() > 50 || peak.Load() > conc {
				t.Fatalf("admitted %d (budget for 50, daily limit %d), peak in flight %d (limit %d)", admitted.Load(), daily, peak.Load(), conc)
			}
			c := readCounters(t, sh.raw, f.key.ID)
			if c.spend+c.reserved > int64(budget) || c.dayRequests > daily || c.inFlight > conc {
				t.Fatalf("while leased: %+v exceeds a limit", c)
			}
			for _, l := range replicas {
				must(t, l.StopLeases(ctx))
			}
			c = readCounters(t, sh.raw, f.key.ID)
			want := keyCounters{spend: admitted.Load() * 100, dayRequests: admitted.Load(), rpmCount: c.rpmCount}
			if c != want {
				t.Fatalf("after the leases went back: %+v, want %+v", c, want)
			}
			var rows int
			must(t, sh.raw.QueryRow(`SELECT COUNT(*) FROM limit_leases`).Scan(&rows))
			if rows != 0 {
				t.Fatalf("%d lease rows left", rows)
			}
			t.Logf("%s: %d of 200 admitted across two replicas, peak %d in flight", name, admitted.Load(), peak.Load())
		})
	}
}

// TestReplicaLeasesAfterCrash: a replica that dies holding leases gets them back at its next start
// (ReleaseLeases with its own id, after its journal's records are stored: each record's cost comes
// out of what was reserved for it), and a lease nobody renews is given back by another replica once
// it expires.
func TestReplicaLeasesAfterCrash(t *testing.T) {
	t.Parallel()
	for name, open := range sharedEngines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sh := open(t)
			ctx := t.Context()
			now := time.Now().UTC().Truncate(time.Millisecond)
			budget, conc := polydev.Money(10_000), int64(10)
			db := sh.open(t)
			f := newSharedFixture(t, db, polydev.TierPlus, func(k *polydev.ProviderKey) { k.MonthlyBudget, k.MaxConcurrent = &budget, &conc })
			a := store.NewReplica(db, "a")
			r1, r2 := f.reservation(100, now), f.reservation(100, now)
			must(t, a.Reserve(ctx, r1, now))
			must(t, a.Reserve(ctx, r2, now))
			journaled := f.record(r1, 80, now) // completed; r2 is in flight at the crash
			a.AwaitLeases()
			if c := readCounters(t, sh.raw, f.key.ID); c.reserved < 200 || c.inFlight < 2 {
				t.Fatalf("leases not in the database: %+v", c)
			}
			// kill -9 of a: its memory is gone. Its next start stores the journal, then gives back.
			a = store.NewReplica(sh.open(t), "a")
			must(t, a.InsertUsage(ctx, []*polydev.UsageRecord{journaled}))
			n, err := a.ReleaseLeases(ctx, "a", false, now)
			must(t, err)
			if c := readCounters(t, sh.raw, f.key.ID); n != 1 || c.spend != 80 || c.reserved != 0 || c.inFlight != 0 {
				t.Fatalf("after the restart gave back %d leases: %+v; want spend 80 and nothing held", n, c)
			}

			// A replica that never comes back: its lease expires and another gives it back.
			b := store.NewReplica(sh.open(t), "b")
			must(t, b.Reserve(ctx, f.reservation(100, now), now))
			b.AwaitLeases()
			c := store.NewReplica(sh.open(t), "c")
			if n, err := c.ReleaseLeases(ctx, "c", true, now.Add(store.LeaseExpiry/2)); err != nil || n != 0 {
				t.Fatalf("a live lease was reclaimed (%d, %v)", n, err)
			}
			if n, err := c.ReleaseLeases(ctx, "c", true, now.Add(store.LeaseExpiry+time.Second)); err != nil || n != 1 {
				t.Fatalf("expired lease: %d given back, %v", n, err)
			}
			if c := readCounters(t, sh.raw, f.key.ID); c.reserved != 0 || c.inFlight != 0 {
				t.Fatalf("after the expired lease went back: %+v", c)
			}
		})
	}
}

// TestReplicaTierLimits: a tier's per-minute limit holds across two replicas leasing from one
// database, and the unused requests go back.
func TestReplicaTierLimits(t *testing.T) {
	t.Parallel()
	for name, open := range sharedEngines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sh := open(t)
			ctx := t.Context()
			now := time.Date(2026, 11, 27, 12, 0, 10, 0, time.UTC)
			db := sh.open(t)
			u := newSharedFixture(t, db, polydev.TierFree, func(*polydev.ProviderKey) {}).user
			replicas := []*store.Local{store.NewReplica(db, "a"), store.NewReplica(sh.open(t), "b")}
			perMinute := int64(45)
			var ok atomic.Int64
			var wg sync.WaitGroup
			for i := range 120 {
				wg.Go(func() {
					err := replicas[i%2].CountUserRequest(ctx, u.ID, nil, &perMinute, now)
					switch {
					case err == nil:
						ok.Add(1)
					case limitOf(err) != "tier_requests_per_minute":
						t.Errorf("unexpected error %v", err)
					}
				})
			}
			wg.Wait()
			if ok.Load() == 0 || ok.Load() > perMinute {
				t.Fatalf("%d admitted against a per-minute limit of %d", ok.Load(), perMinute)
			}
			for _, l := range replicas {
				must(t, l.StopLeases(ctx))
			}
			var count int64
			must(t, sh.raw.QueryRow(`SELECT rpm_count FROM user_counters WHERE user_id = $1`, u.ID).Scan(&count))
			if count != ok.Load() {
				t.Fatalf("counted %d, admitted %d", count, ok.Load())
			}
		})
	}
}
