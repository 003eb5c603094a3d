package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// testEmailVerified: the verified time round-trips through create and update, and nil stays nil.
func testEmailVerified(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	if got, _ := s.UserByID(ctx(t), u.ID); got.Verified() {
		t.Fatal("a user created without EmailVerifiedAt reads back verified")
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	u.EmailVerifiedAt = &at
	must(t, s.UpdateUser(ctx(t), u))
	got, err := s.UserByEmail(ctx(t), u.Email)
	must(t, err)
	if got.EmailVerifiedAt == nil || !got.EmailVerifiedAt.Equal(at) {
		t.Fatalf("EmailVerifiedAt = %v, want %v", got.EmailVerifiedAt, at)
	}
	v := &polydev.User{ID: polydev.NewID(), Email: "verified-" + polydev.NewID()[:8] + "@example.com", PasswordHash: "h",
		Role: polydev.RoleUser, Tier: polydev.TierFree, CreatedAt: at, UpdatedAt: at, EmailVerifiedAt: &at}
	must(t, s.CreateUser(ctx(t), v))
	if got, _ := s.UserByID(ctx(t), v.ID); !got.Verified() {
		t.Fatal("EmailVerifiedAt lost on create")
	}
}

func mailToken(u *polydev.User, purpose polydev.MailPurpose, now time.Time, ttl time.Duration) *polydev.MailToken {
	return &polydev.MailToken{Hash: polydev.NewID() + polydev.NewID(), UserID: u.ID, Purpose: purpose, CreatedAt: now, ExpiresAt: now.Add(ttl)}
}

// testMailTokens: single use, expiry, purpose, only the newest of a purpose works, isolation.
func testMailTokens(t *testing.T, s polydev.Store) {
	a, b := newUser(t, s, polydev.TierFree), newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)

	tok := mailToken(a, polydev.MailVerify, now, time.Hour)
	must(t, s.CreateMailToken(ctx(t), tok))
	_, err := s.ConsumeMailToken(ctx(t), tok.Hash, polydev.MailReset, now)
	mustCode(t, err, polydev.ENOTFOUND) // another purpose
	id, err := s.ConsumeMailToken(ctx(t), tok.Hash, polydev.MailVerify, now)
	must(t, err)
	if id != a.ID {
		t.Fatalf("token consumed for %s, want %s", id, a.ID)
	}
	_, err = s.ConsumeMailToken(ctx(t), tok.Hash, polydev.MailVerify, now)
	mustCode(t, err, polydev.ENOTFOUND) // single use

	// Expired: refused, and gone afterwards.
	old := mailToken(a, polydev.MailReset, now, time.Minute)
	must(t, s.CreateMailToken(ctx(t), old))
	_, err = s.ConsumeMailToken(ctx(t), old.Hash, polydev.MailReset, now.Add(time.Minute))
	mustCode(t, err, polydev.ENOTFOUND)
	_, err = s.ConsumeMailToken(ctx(t), old.Hash, polydev.MailReset, now)
	mustCode(t, err, polydev.ENOTFOUND)

	// A newer token of the same purpose replaces the older; other purposes and users are untouched.
	first := mailToken(a, polydev.MailReset, now, time.Hour)
	verify := mailToken(a, polydev.MailVerify, now, time.Hour)
	theirs := mailToken(b, polydev.MailReset, now, time.Hour)
	for _, x := range []*polydev.MailToken{first, verify, theirs} {
		must(t, s.CreateMailToken(ctx(t), x))
	}
	second := mailToken(a, polydev.MailReset, now.Add(time.Second), time.Hour)
	must(t, s.CreateMailToken(ctx(t), second))
	_, err = s.ConsumeMailToken(ctx(t), first.Hash, polydev.MailReset, now)
	mustCode(t, err, polydev.ENOTFOUND)

	// DeleteMailTokens is per user and purpose.
	must(t, s.DeleteMailTokens(ctx(t), a.ID, polydev.MailReset))
	_, err = s.ConsumeMailToken(ctx(t), second.Hash, polydev.MailReset, now)
	mustCode(t, err, polydev.ENOTFOUND)
	if id, err := s.ConsumeMailToken(ctx(t), theirs.Hash, polydev.MailReset, now); err != nil || id != b.ID {
		t.Fatalf("b's token = %q, %v", id, err)
	}
	if id, err := s.ConsumeMailToken(ctx(t), verify.Hash, polydev.MailVerify, now); err != nil || id != a.ID {
		t.Fatalf("a's verify token = %q, %v", id, err)
	}

	// Hostile lookups are ENOTFOUND, never a driver error.
	for _, h := range []string{"", "x\x00y", "\xff", "' OR 1=1 --"} {
		_, err := s.ConsumeMailToken(ctx(t), h, polydev.MailVerify, now)
		mustCode(t, err, polydev.ENOTFOUND)
	}
}

// testMailTokenConsumeConcurrent: of many concurrent uses of one token exactly one succeeds.
func testMailTokenConsumeConcurrent(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	tok := mailToken(u, polydev.MailReset, now, time.Hour)
	must(t, s.CreateMailToken(ctx(t), tok))
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := s.ConsumeMailToken(ctx(t), tok.Hash, polydev.MailReset, now)
			switch polydev.ErrorCode(err) {
			case "":
				ok.Add(1)
			case polydev.ENOTFOUND:
				refused.Add(1)
			default:
				t.Errorf("consume: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != 7 {
		t.Fatalf("%d uses succeeded and %d were refused, want 1 and 7", ok.Load(), refused.Load())
	}
}
