package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func newToken(t *testing.T, s polydev.Store, userID string, created time.Time) *polydev.APIToken {
	t.Helper()
	tok := &polydev.APIToken{ID: polydev.NewID(), UserID: userID, Name: "ci", Hash: polydev.NewID(), Hint: "pd_…abcd", CreatedAt: created}
	must(t, s.CreateToken(ctx(t), tok))
	return tok
}

func testTokens(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	exp := now.Add(24 * time.Hour)
	old := newToken(t, s, u.ID, now.Add(-time.Hour))
	tok := &polydev.APIToken{ID: polydev.NewID(), UserID: u.ID, Name: "laptop", Hash: polydev.NewID(), Hint: "pd_…wxyz", CreatedAt: now, ExpiresAt: &exp}
	must(t, s.CreateToken(ctx(t), tok))

	got, err := s.TokenByHash(ctx(t), tok.Hash)
	must(t, err)
	if !reflect.DeepEqual(got, tok) {
		t.Fatalf("TokenByHash = %+v, want %+v", got, tok)
	}

	list, err := s.ListTokens(ctx(t), u.ID)
	must(t, err)
	if len(list) != 2 || list[0].ID != tok.ID || list[1].ID != old.ID {
		t.Fatalf("ListTokens order wrong: %+v", list)
	}

	used := now.Add(time.Minute)
	must(t, s.TouchToken(ctx(t), tok.ID, used))
	must(t, s.RevokeToken(ctx(t), u.ID, tok.ID, used))
	mustCode(t, s.RevokeToken(ctx(t), u.ID, tok.ID, used), polydev.ENOTFOUND) // already revoked
	got, err = s.TokenByHash(ctx(t), tok.Hash)
	must(t, err)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(used) || got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
		t.Fatalf("after touch+revoke = %+v", got)
	}
	if got.Active(used) {
		t.Fatal("revoked token reported active")
	}
	_, err = s.TokenByHash(ctx(t), "no-such-hash")
	mustCode(t, err, polydev.ENOTFOUND)
}

func testTokenIsolation(t *testing.T, s polydev.Store) {
	a := newUser(t, s, polydev.TierFree)
	b := newUser(t, s, polydev.TierFree)
	tb := newToken(t, s, b.ID, time.Now())
	mustCode(t, s.RevokeToken(ctx(t), a.ID, tb.ID, time.Now()), polydev.ENOTFOUND)
	list, err := s.ListTokens(ctx(t), a.ID)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("user A sees %d tokens of user B", len(list))
	}
	got, err := s.TokenByHash(ctx(t), tb.Hash)
	must(t, err)
	if got.RevokedAt != nil {
		t.Fatal("user A revoked user B's token")
	}
}
