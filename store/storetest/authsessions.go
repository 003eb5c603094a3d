package storetest

import (
	"bytes"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func newAuthSession(t *testing.T, s polydev.Store, userID string, p polydev.CLIProvider, target string, created time.Time) *polydev.AuthSession {
	t.Helper()
	a := &polydev.AuthSession{ID: polydev.NewID(), UserID: userID, Provider: p, TargetURL: target, Status: polydev.AuthPending,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(polydev.AuthSessionTTL)}
	must(t, s.CreateAuthSession(ctx(t), a))
	return a
}

func testAuthSessions(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPro)
	other := newUser(t, s, polydev.TierPro)
	now := time.Now().UTC().Truncate(time.Millisecond)
	old := newAuthSession(t, s, u.ID, "", "https://github.com/login/oauth/authorize?client_id=x", now.Add(-time.Hour))
	a := newAuthSession(t, s, u.ID, polydev.CLIClaudeCode, "", now)

	got, err := s.AuthSessionByID(ctx(t), u.ID, a.ID)
	must(t, err)
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("AuthSessionByID = %+v, want %+v", got, a)
	}
	_, err = s.AuthSessionByID(ctx(t), other.ID, a.ID)
	mustCode(t, err, polydev.ENOTFOUND)
	_, err = s.AuthSessionByID(ctx(t), u.ID, "no\x00such")
	mustCode(t, err, polydev.ENOTFOUND)
	mustCode(t, s.CreateAuthSession(ctx(t), a), polydev.ECONFLICT)
	for _, bad := range []polydev.AuthSession{
		{Provider: "github", Status: polydev.AuthPending},
		{Provider: polydev.CLICodex, TargetURL: "https://example.com", Status: polydev.AuthPending},
		{Status: polydev.AuthPending},
		{Provider: polydev.CLICodex, Status: "done"},
	} {
		bad.ID, bad.UserID, bad.CreatedAt, bad.UpdatedAt, bad.ExpiresAt = polydev.NewID(), u.ID, now, now, now
		mustCode(t, s.CreateAuthSession(ctx(t), &bad), polydev.EINVALID)
	}

	list, err := s.ListAuthSessions(ctx(t), u.ID, 10)
	must(t, err)
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != old.ID {
		t.Fatalf("ListAuthSessions order wrong: %+v", list)
	}
	if list, _ = s.ListAuthSessions(ctx(t), u.ID, 1); len(list) != 1 {
		t.Fatalf("ListAuthSessions limit 1 gave %d", len(list))
	}
	if list, _ = s.ListAuthSessions(ctx(t), other.ID, 10); len(list) != 0 {
		t.Fatalf("another user sees %d sessions", len(list))
	}

	// pending → running → completed, each move a compare-and-set.
	later := now.Add(time.Minute)
	mustCode(t, s.StartAuthSession(ctx(t), polydev.NewID(), later), polydev.ENOTFOUND)
	mustCode(t, s.CompleteAuthSession(ctx(t), a.ID, &polydev.AuthCredential{Name: "x", Sealed: []byte{1}}, later), polydev.ECONFLICT)
	vmID := polydev.NewID()
	must(t, s.SetAuthSessionVM(ctx(t), a.ID, vmID, later))
	mustCode(t, s.SetAuthSessionVM(ctx(t), a.ID, polydev.NewID(), later), polydev.ECONFLICT)
	must(t, s.StartAuthSession(ctx(t), a.ID, later))
	mustCode(t, s.StartAuthSession(ctx(t), a.ID, later), polydev.ECONFLICT)
	mustCode(t, s.CompleteAuthSession(ctx(t), a.ID, &polydev.AuthCredential{Name: "x"}, later), polydev.EINVALID)
	sealed := []byte{0, 1, 2, 0xff, 'p', 'd'}
	done := later.Add(time.Minute)
	must(t, s.CompleteAuthSession(ctx(t), a.ID, &polydev.AuthCredential{Name: ".credentials.json", Sealed: sealed, DEKVersion: 3}, done))
	mustCode(t, s.EndAuthSession(ctx(t), a.ID, polydev.AuthCancelled, "", done), polydev.ECONFLICT)
	got, err = s.AuthSessionByID(ctx(t), u.ID, a.ID)
	must(t, err)
	if got.Status != polydev.AuthCompleted || got.VMID != vmID || got.EndedAt == nil || !got.EndedAt.Equal(done) ||
		got.Credential == nil || got.Credential.Name != ".credentials.json" || !bytes.Equal(got.Credential.Sealed, sealed) ||
		got.Credential.DEKVersion != 3 || got.VMReleasedAt != nil {
		t.Fatalf("completed session = %+v (credential %+v)", got, got.Credential)
	}

	// A completed session whose VM is not released is swept; once released, it is not.
	sweep, err := s.AuthSessionsToSweep(ctx(t), old.CreatedAt, 10) // before old's expiry
	must(t, err)
	if len(sweep) != 1 || sweep[0].ID != a.ID {
		t.Fatalf("AuthSessionsToSweep = %+v, want the completed session with a VM", sweep)
	}
	must(t, s.ReleaseAuthSessionVM(ctx(t), a.ID, done))
	mustCode(t, s.ReleaseAuthSessionVM(ctx(t), a.ID, done), polydev.ECONFLICT)
	if sweep, _ = s.AuthSessionsToSweep(ctx(t), old.CreatedAt, 10); len(sweep) != 0 {
		t.Fatalf("released session still swept: %+v", sweep)
	}

	// The old session expires: due at its expiry, not before.
	if sweep, _ = s.AuthSessionsToSweep(ctx(t), old.ExpiresAt.Add(-time.Millisecond), 10); len(sweep) != 0 {
		t.Fatalf("session swept before its expiry: %+v", sweep)
	}
	sweep, err = s.AuthSessionsToSweep(ctx(t), old.ExpiresAt, 10)
	must(t, err)
	if len(sweep) != 1 || sweep[0].ID != old.ID {
		t.Fatalf("AuthSessionsToSweep at expiry = %+v", sweep)
	}
	mustCode(t, s.EndAuthSession(ctx(t), old.ID, polydev.AuthCompleted, "", done), polydev.EINVALID)
	must(t, s.EndAuthSession(ctx(t), old.ID, polydev.AuthExpired, "expired after 30m", done))
	got, _ = s.AuthSessionByID(ctx(t), u.ID, old.ID)
	if got.Status != polydev.AuthExpired || got.Reason != "expired after 30m" || got.Credential != nil {
		t.Fatalf("expired session = %+v", got)
	}
	// No VM was ever assigned: nothing left to sweep.
	if sweep, _ = s.AuthSessionsToSweep(ctx(t), done.Add(time.Hour), 10); len(sweep) != 0 {
		t.Fatalf("ended session without a VM swept: %+v", sweep)
	}

	g := newAuthSession(t, s, other.ID, polydev.CLIGemini, "", now)
	recent, err := s.RecentAuthSessions(ctx(t), 2)
	must(t, err)
	// old ended at done, a was released at done; g changed last (created at now, before done): the
	// order is by last change, newest first, ties broken by id.
	if len(recent) != 2 || recent[0].ID == g.ID || recent[1].ID == g.ID {
		t.Fatalf("RecentAuthSessions = %+v, want the two sessions changed at %v", recent, done)
	}
	c, err := s.CountAuthSessions(ctx(t))
	must(t, err)
	if *c != (polydev.AuthSessionCounts{Active: 1, Completed: 1, Total: 3}) {
		t.Fatalf("CountAuthSessions = %+v", c)
	}
}

// testAuthSessionRace: a cancel and a completion racing for one running session; exactly one wins.
func testAuthSessionRace(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPro)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for range 5 {
		a := newAuthSession(t, s, u.ID, polydev.CLICodex, "", now)
		must(t, s.StartAuthSession(ctx(t), a.ID, now))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() {
			errs[0] = s.CompleteAuthSession(ctx(t), a.ID, &polydev.AuthCredential{Name: "auth.json", Sealed: []byte("sealed")}, now)
		})
		wg.Go(func() { errs[1] = s.EndAuthSession(ctx(t), a.ID, polydev.AuthCancelled, "", now) })
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("complete: %v, cancel: %v; want exactly one to win", errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil {
				mustCode(t, err, polydev.ECONFLICT)
			}
		}
	}
}
