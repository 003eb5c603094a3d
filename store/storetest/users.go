package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// newUser inserts a user with a unique email and returns it.
func newUser(t *testing.T, s polydev.Store, tier polydev.Tier) *polydev.User {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &polydev.User{
		ID: polydev.NewID(), Email: fmt.Sprintf("u-%s@example.com", polydev.NewID()[:8]),
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", Role: polydev.RoleUser, Tier: tier,
		CreatedAt: now, UpdatedAt: now,
	}
	must(t, s.CreateUser(ctx(t), u))
	return u
}

func testUsers(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	got, err := s.UserByID(ctx(t), u.ID)
	must(t, err)
	if *got != *u {
		t.Fatalf("UserByID = %+v, want %+v", got, u)
	}
	got, err = s.UserByEmail(ctx(t), u.Email)
	must(t, err)
	if got.ID != u.ID {
		t.Fatalf("UserByEmail id = %s, want %s", got.ID, u.ID)
	}

	u.Role, u.Tier, u.PasswordHash = polydev.RoleAdmin, polydev.TierPro, "new-hash"
	u.UpdatedAt = u.UpdatedAt.Add(time.Second)
	must(t, s.UpdateUser(ctx(t), u))
	got, err = s.UserByID(ctx(t), u.ID)
	must(t, err)
	if *got != *u {
		t.Fatalf("after update = %+v, want %+v", got, u)
	}

	missing := *u
	missing.ID = polydev.NewID()
	mustCode(t, s.UpdateUser(ctx(t), &missing), polydev.ENOTFOUND)

	_, err = s.UserByID(ctx(t), polydev.NewID())
	mustCode(t, err, polydev.ENOTFOUND)
	_, err = s.UserByEmail(ctx(t), "nobody@example.com")
	mustCode(t, err, polydev.ENOTFOUND)

	counts, err := s.CountUsersByTier(ctx(t))
	must(t, err)
	if counts[polydev.TierPro] != 1 {
		t.Fatalf("CountUsersByTier = %v, want pro=1", counts)
	}
}

func testUserEmailUnique(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	dup := *u
	dup.ID = polydev.NewID()
	mustCode(t, s.CreateUser(ctx(t), &dup), polydev.ECONFLICT)
}

// testHostileLookups feeds SQL-injection payloads to every lookup: each must be a plain miss.
func testHostileLookups(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	payloads := []string{
		"' OR '1'='1", "1; DROP TABLE users; --", `" OR ""="`, "' UNION SELECT * FROM users --",
		u.ID + "' OR 1=1 --", "%", "_", "\x00", "$1", "?",
	}
	for _, p := range payloads {
		_, err := s.UserByID(ctx(t), p)
		mustCode(t, err, polydev.ENOTFOUND)
		_, err = s.UserByEmail(ctx(t), p)
		mustCode(t, err, polydev.ENOTFOUND)
		_, err = s.TokenByHash(ctx(t), p)
		mustCode(t, err, polydev.ENOTFOUND)
		_, err = s.SessionByID(ctx(t), p)
		mustCode(t, err, polydev.ENOTFOUND)
		mustCode(t, s.RevokeToken(ctx(t), u.ID, p, time.Now()), polydev.ENOTFOUND)
	}
	if _, err := s.UserByID(ctx(t), u.ID); err != nil {
		t.Fatalf("users table damaged: %v", err)
	}
}

func testUserDisableAndList(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	at := time.Now().UTC().Truncate(time.Millisecond)
	u.DisabledAt, u.UpdatedAt = &at, at
	must(t, s.UpdateUser(ctx(t), u))
	got, err := s.UserByID(ctx(t), u.ID)
	must(t, err)
	if got.DisabledAt == nil || !got.DisabledAt.Equal(at) || !got.Disabled() {
		t.Fatalf("DisabledAt = %v, want %v", got.DisabledAt, at)
	}
	u.DisabledAt = nil
	must(t, s.UpdateUser(ctx(t), u))
	if got, _ := s.UserByID(ctx(t), u.ID); got.Disabled() {
		t.Fatal("user still disabled after enabling")
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, e := range []string{"carol@example.com", "al_ice@example.com", "alxice@example.com", "bob@example.org"} {
		must(t, s.CreateUser(ctx(t), &polydev.User{ID: polydev.NewID(), Email: e, PasswordHash: "h", Role: polydev.RoleUser,
			Tier: polydev.TierFree, CreatedAt: now, UpdatedAt: now}))
	}
	emails := func(q polydev.UserQuery) []string {
		t.Helper()
		us, err := s.ListUsers(ctx(t), q)
		must(t, err)
		out := []string{}
		for _, u := range us {
			out = append(out, u.Email)
		}
		return out
	}
	all := emails(polydev.UserQuery{})
	if len(all) != 5 || all[0] != "al_ice@example.com" || all[4] != u.Email {
		t.Fatalf("ListUsers = %v, want 5 in email order", all)
	}
	page := emails(polydev.UserQuery{Limit: 2})
	next := emails(polydev.UserQuery{Limit: 2, After: page[1]})
	if len(page) != 2 || len(next) != 2 || next[0] != all[2] {
		t.Fatalf("pages %v then %v, want %v split in two", page, next, all[:4])
	}
	// LIKE wildcards are literal: "_" matches only the underscore, "%" nothing.
	if got := emails(polydev.UserQuery{Search: "L_I"}); len(got) != 1 || got[0] != "al_ice@example.com" {
		t.Fatalf("search L_I = %v, want only al_ice", got)
	}
	if got := emails(polydev.UserQuery{Search: "%"}); len(got) != 0 {
		t.Fatalf("search %% = %v, want none", got)
	}
	if got := emails(polydev.UserQuery{Search: "example.org"}); len(got) != 1 || got[0] != "bob@example.org" {
		t.Fatalf("search example.org = %v", got)
	}
}
