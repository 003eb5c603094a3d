package storetest

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func ptr[T any](v T) *T { return &v }

// binarySecret returns bytes that no text column would keep intact: every byte value, with NUL and
// 0xff at both ends and invalid UTF-8 in between.
func binarySecret(seed byte) []byte {
	b := []byte{0x00, 0xff, seed, 0x00}
	for i := range 256 {
		b = append(b, byte(i))
	}
	b = append(b, 0xc3, 0x28, 0xfe, 0xff, 0x00) // invalid UTF-8, then NUL last
	return b
}

// newProviderKey inserts a key of owner userID ("" for the platform) with every field set.
func newProviderKey(t *testing.T, s polydev.Store, userID string, p polydev.Provider, priority int64, created time.Time) *polydev.ProviderKey {
	t.Helper()
	used := created.Add(time.Minute)
	k := &polydev.ProviderKey{
		ID: polydev.NewID(), UserID: userID, Provider: p, Name: "key " + string(p),
		Secret: binarySecret(byte(priority)), DEKVersion: 1, Preview: "abcd", BaseURL: "https://llm.example.com/v1",
		MonthlyBudget: ptr(polydev.Money(12_345_678)), DailyLimit: ptr(int64(1000)), RateLimitRPM: ptr(int64(60)),
		Priority: priority, Active: true,
		Usage: polydev.KeyUsage{
			Month: polydev.MonthOf(created), MonthSpend: 1_500_000, Day: polydev.DayOf(created), DayRequests: 7,
			TotalRequests: 70, InputTokens: 1234, OutputTokens: 5678, TotalSpend: 9_000_001, LastUsedAt: &used,
		},
		CreatedAt: created, UpdatedAt: created,
	}
	must(t, s.CreateProviderKey(ctx(t), k))
	return k
}

func getKey(t *testing.T, s polydev.Store, owner, id string) *polydev.ProviderKey {
	t.Helper()
	k, err := s.ProviderKeyFor(ctx(t), owner, id)
	must(t, err)
	return k
}

func mustKeyEqual(t *testing.T, got, want *polydev.ProviderKey) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("key =\n%+v\nwant\n%+v", got, want)
	}
}

func keyIDs(keys []*polydev.ProviderKey) []string {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	return ids
}

func testProviderKeys(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)

	// Inserted out of order; the list must come back by provider, then priority, then creation.
	gemini2 := newProviderKey(t, s, u.ID, polydev.ProviderGemini, 2, now.Add(-3*time.Hour))
	compat := newProviderKey(t, s, u.ID, polydev.ProviderOpenAICompatible, 0, now.Add(-4*time.Hour))
	gemini1New := newProviderKey(t, s, u.ID, polydev.ProviderGemini, 1, now)
	openai := newProviderKey(t, s, u.ID, polydev.ProviderOpenAI, 5, now)
	gemini1Old := newProviderKey(t, s, u.ID, polydev.ProviderGemini, 1, now.Add(-time.Hour))
	anthropic := newProviderKey(t, s, u.ID, polydev.ProviderAnthropic, 9, now)

	got := getKey(t, s, u.ID, gemini1Old.ID)
	mustKeyEqual(t, got, gemini1Old)

	list, err := s.ListProviderKeys(ctx(t), u.ID)
	must(t, err)
	want := []*polydev.ProviderKey{anthropic, gemini1Old, gemini1New, gemini2, openai, compat}
	if !reflect.DeepEqual(keyIDs(list), keyIDs(want)) {
		t.Fatalf("ListProviderKeys order = %v, want %v", keyIDs(list), keyIDs(want))
	}
	for i := range want {
		mustKeyEqual(t, list[i], want[i])
	}

	_, err = s.ProviderKeyFor(ctx(t), u.ID, polydev.NewID())
	mustCode(t, err, polydev.ENOTFOUND)

	// An owner with no keys gets an empty, non-nil list.
	other := newUser(t, s, polydev.TierFree)
	list, err = s.ListProviderKeys(ctx(t), other.ID)
	must(t, err)
	if list == nil || len(list) != 0 {
		t.Fatalf("ListProviderKeys(no keys) = %#v, want empty", list)
	}
}

// testProviderKeyUpdate changes every mutable field, then clears the optional limits.
func testProviderKeyUpdate(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	k := newProviderKey(t, s, u.ID, polydev.ProviderOpenAI, 3, now.Add(-time.Hour))
	orig := *k

	upd := *k
	upd.Name, upd.Secret, upd.DEKVersion, upd.Preview = "renamed", binarySecret(0x42), 2, "wxyz"
	upd.BaseURL = "http://localhost:11434/v1"
	upd.MonthlyBudget = ptr(polydev.MaxMoney) // the largest amount a client may set
	upd.DailyLimit, upd.RateLimitRPM = ptr(int64(1)), ptr(int64(1<<40))
	upd.Priority, upd.Active = 17, false
	upd.UpdatedAt = now
	// Fields that are not mutable through UpdateProviderKey: the store must ignore them.
	upd.Provider = polydev.ProviderGemini
	upd.Usage = polydev.KeyUsage{TotalRequests: 999_999}
	upd.CreatedAt = now.Add(time.Hour)
	must(t, s.UpdateProviderKey(ctx(t), &upd))

	want := upd
	want.Provider, want.Usage, want.CreatedAt = orig.Provider, orig.Usage, orig.CreatedAt
	mustKeyEqual(t, getKey(t, s, u.ID, k.ID), &want)

	// Zero limits are limits, not "none": they must come back as non-nil zeros.
	upd = want
	upd.MonthlyBudget, upd.DailyLimit, upd.RateLimitRPM = ptr(polydev.Money(0)), ptr(int64(0)), ptr(int64(0))
	upd.UpdatedAt = now.Add(time.Second)
	must(t, s.UpdateProviderKey(ctx(t), &upd))
	mustKeyEqual(t, getKey(t, s, u.ID, k.ID), &upd)

	// nil clears each optional limit.
	upd.MonthlyBudget, upd.DailyLimit, upd.RateLimitRPM = nil, nil, nil
	upd.BaseURL, upd.Active = "", true
	upd.UpdatedAt = now.Add(2 * time.Second)
	must(t, s.UpdateProviderKey(ctx(t), &upd))
	got := getKey(t, s, u.ID, k.ID)
	if got.MonthlyBudget != nil || got.DailyLimit != nil || got.RateLimitRPM != nil {
		t.Fatalf("limits not cleared: budget=%v daily=%v rpm=%v", got.MonthlyBudget, got.DailyLimit, got.RateLimitRPM)
	}
	mustKeyEqual(t, got, &upd)

	// Money round trip at the edges.
	for _, m := range []polydev.Money{1, 999_999, 1_000_000, polydev.MaxMoney - 1} {
		upd.MonthlyBudget = ptr(m)
		must(t, s.UpdateProviderKey(ctx(t), &upd))
		if got := getKey(t, s, u.ID, k.ID); got.MonthlyBudget == nil || *got.MonthlyBudget != m {
			t.Fatalf("budget %d came back as %v", m, got.MonthlyBudget)
		}
	}

	missing := upd
	missing.ID = polydev.NewID()
	mustCode(t, s.UpdateProviderKey(ctx(t), &missing), polydev.ENOTFOUND)
}

// testProviderKeyIsolation checks that platform keys and each user's keys are out of reach of every
// other owner, through every method.
func testProviderKeyIsolation(t *testing.T, s polydev.Store) {
	a := newUser(t, s, polydev.TierFree)
	b := newUser(t, s, polydev.TierPro)
	now := time.Now().UTC().Truncate(time.Millisecond)
	keys := map[string]*polydev.ProviderKey{ // owner -> its key
		"":   newProviderKey(t, s, "", polydev.ProviderOpenAI, 3, now),
		a.ID: newProviderKey(t, s, a.ID, polydev.ProviderOpenAI, 3, now),
		b.ID: newProviderKey(t, s, b.ID, polydev.ProviderOpenAI, 3, now),
	}
	// "platform" is the vault owner id of platform secrets, not a key owner: it must see nothing.
	owners := []string{"", a.ID, b.ID, polydev.PlatformOwner}
	later := now.Add(time.Hour)

	for _, owner := range owners {
		list, err := s.ListProviderKeys(ctx(t), owner)
		must(t, err)
		mine, ok := keys[owner]
		if !ok {
			if len(list) != 0 {
				t.Fatalf("owner %q lists %d keys, want none", owner, len(list))
			}
		} else if len(list) != 1 || list[0].ID != mine.ID {
			t.Fatalf("owner %q lists %v, want only %s", owner, keyIDs(list), mine.ID)
		}

		for keyOwner, k := range keys {
			if keyOwner == owner {
				continue
			}
			_, err := s.ProviderKeyFor(ctx(t), owner, k.ID)
			mustCode(t, err, polydev.ENOTFOUND)

			hijack := *k
			hijack.UserID, hijack.Name, hijack.Secret, hijack.Active = owner, "stolen", []byte("x"), false
			hijack.UpdatedAt = later
			mustCode(t, s.UpdateProviderKey(ctx(t), &hijack), polydev.ENOTFOUND)
			mustCode(t, s.DeleteProviderKey(ctx(t), owner, k.ID), polydev.ENOTFOUND)
			mustCode(t, s.ResetProviderKeyUsage(ctx(t), owner, k.ID, later), polydev.ENOTFOUND)
			mustCode(t, s.ReorderProviderKeys(ctx(t), owner, []string{k.ID}, later), polydev.ENOTFOUND)
			if mine, ok := keys[owner]; ok {
				// Own key first: it would be updated before the foreign one is refused.
				mustCode(t, s.ReorderProviderKeys(ctx(t), owner, []string{mine.ID, k.ID}, later), polydev.ENOTFOUND)
			}
		}
	}
	for owner, k := range keys {
		mustKeyEqual(t, getKey(t, s, owner, k.ID), k)
	}
}

// testProviderKeyHostileIDs feeds malformed owners and ids to every method: each must be a plain miss.
func testProviderKeyHostileIDs(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	k := newProviderKey(t, s, u.ID, polydev.ProviderAnthropic, 0, now)
	payloads := []string{"' OR '1'='1", k.ID + "' OR 1=1 --", "%", "_", "\x00", u.ID + "\x00", "\xff\xfe", "?", "$1"}
	for _, p := range payloads {
		_, err := s.ProviderKeyFor(ctx(t), u.ID, p)
		mustCode(t, err, polydev.ENOTFOUND)
		_, err = s.ProviderKeyFor(ctx(t), p, k.ID)
		mustCode(t, err, polydev.ENOTFOUND)
		list, err := s.ListProviderKeys(ctx(t), p)
		if err != nil || len(list) != 0 {
			t.Fatalf("ListProviderKeys(%q) = %d keys, %v; want none", p, len(list), err)
		}
		bad := *k
		bad.ID = p
		mustCode(t, s.UpdateProviderKey(ctx(t), &bad), polydev.ENOTFOUND)
		bad = *k
		bad.UserID = p
		mustCode(t, s.UpdateProviderKey(ctx(t), &bad), polydev.ENOTFOUND)
		mustCode(t, s.DeleteProviderKey(ctx(t), u.ID, p), polydev.ENOTFOUND)
		mustCode(t, s.DeleteProviderKey(ctx(t), p, k.ID), polydev.ENOTFOUND)
		mustCode(t, s.ResetProviderKeyUsage(ctx(t), u.ID, p, now), polydev.ENOTFOUND)
		mustCode(t, s.ResetProviderKeyUsage(ctx(t), p, k.ID, now), polydev.ENOTFOUND)
		mustCode(t, s.ReorderProviderKeys(ctx(t), u.ID, []string{k.ID, p}, now), polydev.ENOTFOUND)
		mustCode(t, s.ReorderProviderKeys(ctx(t), p, []string{k.ID}, now), polydev.ENOTFOUND)
	}
	mustKeyEqual(t, getKey(t, s, u.ID, k.ID), k)
}

func testProviderKeyDelete(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	gone := newProviderKey(t, s, u.ID, polydev.ProviderOpenAI, 0, now)
	kept := newProviderKey(t, s, u.ID, polydev.ProviderOpenAI, 1, now)
	platform := newProviderKey(t, s, "", polydev.ProviderOpenAI, 0, now)

	must(t, s.DeleteProviderKey(ctx(t), u.ID, gone.ID))
	_, err := s.ProviderKeyFor(ctx(t), u.ID, gone.ID)
	mustCode(t, err, polydev.ENOTFOUND)
	mustCode(t, s.DeleteProviderKey(ctx(t), u.ID, gone.ID), polydev.ENOTFOUND)
	upd := *gone
	mustCode(t, s.UpdateProviderKey(ctx(t), &upd), polydev.ENOTFOUND)

	list, err := s.ListProviderKeys(ctx(t), u.ID)
	must(t, err)
	if len(list) != 1 || list[0].ID != kept.ID {
		t.Fatalf("after delete list = %v, want [%s]", keyIDs(list), kept.ID)
	}

	must(t, s.DeleteProviderKey(ctx(t), "", platform.ID))
	list, err = s.ListProviderKeys(ctx(t), "")
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("platform keys after delete = %v", keyIDs(list))
	}
	mustKeyEqual(t, getKey(t, s, u.ID, kept.ID), kept)
}

// testProviderKeyResetUsage clears the period counters and keeps the lifetime totals.
func testProviderKeyResetUsage(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	k := newProviderKey(t, s, u.ID, polydev.ProviderGemini, 0, now.Add(-time.Hour))
	platform := newProviderKey(t, s, "", polydev.ProviderGemini, 0, now.Add(-time.Hour))

	must(t, s.ResetProviderKeyUsage(ctx(t), u.ID, k.ID, now))
	want := *k
	want.Usage.Month, want.Usage.MonthSpend, want.Usage.Day, want.Usage.DayRequests = "", 0, "", 0
	want.UpdatedAt = now
	got := getKey(t, s, u.ID, k.ID)
	mustKeyEqual(t, got, &want)
	if got.Usage.SpendThisMonth(now) != 0 || got.Usage.RequestsToday(now) != 0 {
		t.Fatalf("usage after reset = %+v", got.Usage)
	}

	must(t, s.ResetProviderKeyUsage(ctx(t), "", platform.ID, now))
	want = *platform
	want.Usage.Month, want.Usage.MonthSpend, want.Usage.Day, want.Usage.DayRequests = "", 0, "", 0
	want.UpdatedAt = now
	mustKeyEqual(t, getKey(t, s, "", platform.ID), &want)

	mustCode(t, s.ResetProviderKeyUsage(ctx(t), u.ID, polydev.NewID(), now), polydev.ENOTFOUND)
}

// testProviderKeyReorder checks that a reorder is all or nothing.
func testProviderKeyReorder(t *testing.T, s polydev.Store) {
	a := newUser(t, s, polydev.TierFree)
	b := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	k1 := newProviderKey(t, s, a.ID, polydev.ProviderOpenAI, 5, now)
	k2 := newProviderKey(t, s, a.ID, polydev.ProviderOpenAI, 6, now)
	k3 := newProviderKey(t, s, a.ID, polydev.ProviderOpenAI, 7, now)
	foreign := newProviderKey(t, s, b.ID, polydev.ProviderOpenAI, 4, now)
	platform := newProviderKey(t, s, "", polydev.ProviderOpenAI, 3, now)

	at := now.Add(time.Minute)
	must(t, s.ReorderProviderKeys(ctx(t), a.ID, []string{k3.ID, k1.ID, k2.ID}, at))
	list, err := s.ListProviderKeys(ctx(t), a.ID)
	must(t, err)
	if want := []string{k3.ID, k1.ID, k2.ID}; !reflect.DeepEqual(keyIDs(list), want) {
		t.Fatalf("order after reorder = %v, want %v", keyIDs(list), want)
	}
	for i, k := range list {
		if k.Priority != int64(i) || !k.UpdatedAt.Equal(at) {
			t.Fatalf("key %d: priority %d updated %v, want %d %v", i, k.Priority, k.UpdatedAt, i, at)
		}
	}
	before := list

	later := at.Add(time.Minute)
	for name, order := range map[string][]string{
		"foreign user's key": {k1.ID, k2.ID, foreign.ID, k3.ID},
		"platform key":       {k2.ID, platform.ID},
		"unknown id":         {k1.ID, k2.ID, k3.ID, polydev.NewID()},
		"NUL id":             {k2.ID, k1.ID, "\x00"},
	} {
		mustCode(t, s.ReorderProviderKeys(ctx(t), a.ID, order, later), polydev.ENOTFOUND)
		after, err := s.ListProviderKeys(ctx(t), a.ID)
		must(t, err)
		if !reflect.DeepEqual(after, before) {
			t.Fatalf("failed reorder (%s) changed keys:\nbefore %v\nafter  %v", name, keyIDs(before), keyIDs(after))
		}
	}
	mustKeyEqual(t, getKey(t, s, b.ID, foreign.ID), foreign)
	mustKeyEqual(t, getKey(t, s, "", platform.ID), platform)

	// The platform reorders its own keys the same way.
	p2 := newProviderKey(t, s, "", polydev.ProviderOpenAI, 0, now)
	must(t, s.ReorderProviderKeys(ctx(t), "", []string{platform.ID, p2.ID}, later))
	list, err = s.ListProviderKeys(ctx(t), "")
	must(t, err)
	if want := []string{platform.ID, p2.ID}; !reflect.DeepEqual(keyIDs(list), want) || list[0].Priority != 0 || list[1].Priority != 1 {
		t.Fatalf("platform order = %v, want %v", keyIDs(list), want)
	}
}

// testProviderKeySecretBytes checks that the encrypted secret, arbitrary binary, round-trips exactly.
func testProviderKeySecretBytes(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	k := newProviderKey(t, s, u.ID, polydev.ProviderOpenAI, 0, now)
	if got := getKey(t, s, u.ID, k.ID).Secret; !bytes.Equal(got, k.Secret) {
		t.Fatalf("secret = %x, want %x", got, k.Secret)
	}
	list, err := s.ListProviderKeys(ctx(t), u.ID)
	must(t, err)
	if len(list) != 1 || !bytes.Equal(list[0].Secret, k.Secret) {
		t.Fatalf("listed secret differs")
	}

	for _, secret := range [][]byte{{0x00}, {0xff}, {0x00, 0x00, 0x00}, bytes.Repeat([]byte{0xff, 0x00}, 4096), binarySecret(0xff)} {
		upd := *k
		upd.Secret = secret
		must(t, s.UpdateProviderKey(ctx(t), &upd))
		if got := getKey(t, s, u.ID, k.ID).Secret; !bytes.Equal(got, secret) {
			t.Fatalf("secret after update = %x, want %x", got, secret)
		}
	}
}
