package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/store/sqlite"
)

// touchCounter counts the token touches that reach the database.
type touchCounter struct {
	polydev.Store
	touches int
}

func (s *touchCounter) TouchToken(ctx context.Context, id string, at time.Time) error {
	s.touches++
	return s.Store.TouchToken(ctx, id, at)
}

// TestCachedTouchToken: a touch updates the cached token at once, so the requests that follow do not
// write it again, and a touch within a second of the last is not repeated.
func TestCachedTouchToken(t *testing.T) {
	t.Parallel()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "polydev.db"))
	must(t, err)
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &polydev.User{ID: polydev.NewID(), Email: "c@example.com", PasswordHash: "x", Role: polydev.RoleUser, Tier: polydev.TierFree, CreatedAt: now, UpdatedAt: now}
	must(t, db.CreateUser(t.Context(), u))
	tok := &polydev.APIToken{ID: polydev.NewID(), UserID: u.ID, Name: "t", Hash: polydev.NewID(), Hint: "pd_…abcd", CreatedAt: now}
	must(t, db.CreateToken(t.Context(), tok))
	counter := &touchCounter{Store: db}
	c := store.NewCached(counter, time.Hour)

	got, err := c.TokenByHash(t.Context(), tok.Hash)
	must(t, err)
	if got.LastUsedAt != nil {
		t.Fatal("new token has a last use")
	}
	must(t, c.TouchToken(t.Context(), tok.ID, now))
	got, err = c.TokenByHash(t.Context(), tok.Hash)
	must(t, err)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now) {
		t.Fatalf("cached last use = %v, want %v", got.LastUsedAt, now)
	}
	must(t, c.TouchToken(t.Context(), tok.ID, now.Add(100*time.Millisecond))) // a concurrent request's touch
	must(t, c.TouchToken(t.Context(), tok.ID, now.Add(time.Minute)))
	stored, err := db.TokenByHash(t.Context(), tok.Hash)
	must(t, err)
	if counter.touches != 2 || stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("%d touches reached the database, stored last use %v", counter.touches, stored.LastUsedAt)
	}
}
