package storetest

import (
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func newSession(t *testing.T, s polydev.Store, userID string, now time.Time, life time.Duration) *polydev.Session {
	t.Helper()
	sess := &polydev.Session{ID: polydev.NewID(), UserID: userID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(life)}
	must(t, s.CreateSession(ctx(t), sess))
	return sess
}

func testSessions(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	sess := newSession(t, s, u.ID, now, time.Hour)
	got, err := s.SessionByID(ctx(t), sess.ID)
	must(t, err)
	if *got != *sess {
		t.Fatalf("SessionByID = %+v, want %+v", got, sess)
	}

	later := now.Add(time.Minute)
	must(t, s.TouchSession(ctx(t), sess.ID, later))
	must(t, s.TouchSession(ctx(t), sess.ID, now)) // never moves backwards
	got, err = s.SessionByID(ctx(t), sess.ID)
	must(t, err)
	if !got.LastSeenAt.Equal(later) {
		t.Fatalf("LastSeenAt = %v, want %v", got.LastSeenAt, later)
	}

	must(t, s.DeleteSession(ctx(t), sess.ID))
	_, err = s.SessionByID(ctx(t), sess.ID)
	mustCode(t, err, polydev.ENOTFOUND)
	must(t, s.DeleteSession(ctx(t), sess.ID)) // idempotent

	a := newSession(t, s, u.ID, now, time.Hour)
	b := newSession(t, s, u.ID, now, time.Hour)
	keep := newSession(t, s, u.ID, now, time.Hour)
	other := newSession(t, s, newUser(t, s, polydev.TierFree).ID, now, time.Hour)
	must(t, s.DeleteUserSessions(ctx(t), u.ID, keep.ID))
	for _, x := range []*polydev.Session{a, b} {
		_, err = s.SessionByID(ctx(t), x.ID)
		mustCode(t, err, polydev.ENOTFOUND)
	}
	for _, x := range []*polydev.Session{keep, other} {
		_, err = s.SessionByID(ctx(t), x.ID)
		must(t, err)
	}
	must(t, s.DeleteUserSessions(ctx(t), u.ID, ""))
	_, err = s.SessionByID(ctx(t), keep.ID)
	mustCode(t, err, polydev.ENOTFOUND)
	if _, err = s.SessionByID(ctx(t), other.ID); err != nil {
		t.Fatalf("another user's session ended too: %v", err)
	}
}

func testSessionExpiry(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	live := newSession(t, s, u.ID, now, time.Hour)
	expired := newSession(t, s, u.ID, now.Add(-2*time.Hour), time.Hour)
	idle := newSession(t, s, u.ID, now.Add(-3*time.Hour), 24*time.Hour)

	n, err := s.DeleteExpiredSessions(ctx(t), now, now.Add(-2*time.Hour))
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteExpiredSessions removed %d, want 2", n)
	}
	if _, err := s.SessionByID(ctx(t), live.ID); err != nil {
		t.Fatalf("live session removed: %v", err)
	}
	for _, x := range []*polydev.Session{expired, idle} {
		_, err = s.SessionByID(ctx(t), x.ID)
		mustCode(t, err, polydev.ENOTFOUND)
	}
}
