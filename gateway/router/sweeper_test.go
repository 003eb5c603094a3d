package router_test

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/store/sqlite"
)

// TestSweeperSettlesDeadReservations: reservations left by a killed process are billed at their
// reserved amount and give back the key's budget and concurrency slot; a reservation its request
// settled is left alone.
func TestSweeperSettlesDeadReservations(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &polydev.User{ID: polydev.NewID(), Email: "s@example.com", PasswordHash: "x", Role: polydev.RoleUser, Tier: polydev.TierPlus, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	budget, one := polydev.Money(1000), int64(1)
	k := &polydev.ProviderKey{ID: polydev.NewID(), UserID: u.ID, Provider: "openai", Name: "k", Secret: []byte{1}, DEKVersion: 1, Preview: "abcd",
		Active: true, MonthlyBudget: &budget, MaxConcurrent: &one, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateProviderKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	dead := &polydev.Reservation{ID: polydev.NewID(), KeyID: k.ID, UserID: u.ID, Amount: 300, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.Reserve(t.Context(), dead, now); err != nil {
		t.Fatal(err)
	}
	// The key's one concurrency slot is held by the dead request.
	if err := db.Reserve(t.Context(), &polydev.Reservation{ID: polydev.NewID(), KeyID: k.ID, UserID: u.ID, Amount: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, now); err == nil {
		t.Fatal("second reservation admitted past the concurrency cap")
	}
	sw := &router.Sweeper{Store: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SingleNode: true, Interval: time.Hour}
	sw.Start(t.Context())
	sw.Stop()

	got, err := db.ProviderKeyFor(t.Context(), u.ID, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Usage.SpendThisMonth(now) != 300 {
		t.Fatalf("dead reservation billed %d, want 300", got.Usage.SpendThisMonth(now))
	}
	if err := db.Reserve(t.Context(), &polydev.Reservation{ID: polydev.NewID(), KeyID: k.ID, UserID: u.ID, Amount: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, now); err != nil {
		t.Fatalf("slot not given back: %v", err)
	}
	recs, err := db.ListUsage(t.Context(), u.ID, time.Time{}, 10)
	if err != nil || len(recs) != 1 || recs[0].Status != polydev.UsageInterrupted || recs[0].Cost != 300 {
		t.Fatalf("records = %+v, %v", recs, err)
	}
	// Sweeping again settles nothing twice.
	if n, err := sw.SweepBefore(t.Context(), now.Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("second sweep = %d, %v", n, err)
	}
}
