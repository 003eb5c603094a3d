package storetest

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func newDataKey(t *testing.T, s polydev.Store, owner string, kek int, created time.Time) *polydev.DataKey {
	t.Helper()
	k := &polydev.DataKey{
		OwnerID: owner, Version: 1, Wrapped: append([]byte{0x00, 0xff, byte(kek)}, owner...), KEKVersion: kek,
		CreatedAt: created, UpdatedAt: created,
	}
	must(t, s.CreateDataKey(ctx(t), k))
	return k
}

func getDataKey(t *testing.T, s polydev.Store, owner string) *polydev.DataKey {
	t.Helper()
	k, err := s.DataKey(ctx(t), owner)
	must(t, err)
	return k
}

func mustDataKeyEqual(t *testing.T, got, want *polydev.DataKey) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("data key =\n%+v\nwant\n%+v", got, want)
	}
}

func testDataKeys(t *testing.T, s polydev.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	_, err := s.DataKey(ctx(t), polydev.PlatformOwner)
	mustCode(t, err, polydev.ENOTFOUND)

	platform := newDataKey(t, s, polydev.PlatformOwner, 1, now)
	user := &polydev.DataKey{
		OwnerID: polydev.NewID(), Version: 3, Wrapped: binarySecret(0x7f), KEKVersion: 2,
		CreatedAt: now.Add(-time.Hour), UpdatedAt: now,
	}
	must(t, s.CreateDataKey(ctx(t), user))
	mustDataKeyEqual(t, getDataKey(t, s, polydev.PlatformOwner), platform)
	mustDataKeyEqual(t, getDataKey(t, s, user.OwnerID), user)

	// A second create for the same owner (a concurrent first write) conflicts and changes nothing.
	dup := &polydev.DataKey{OwnerID: user.OwnerID, Version: 1, Wrapped: []byte("other"), KEKVersion: 9, CreatedAt: now, UpdatedAt: now}
	mustCode(t, s.CreateDataKey(ctx(t), dup), polydev.ECONFLICT)
	mustDataKeyEqual(t, getDataKey(t, s, user.OwnerID), user)

	for _, p := range []string{polydev.NewID(), "", "' OR '1'='1", "\x00", "\xff"} {
		_, err := s.DataKey(ctx(t), p)
		mustCode(t, err, polydev.ENOTFOUND)
	}
}

func testDataKeysBefore(t *testing.T, s polydev.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	byKEK := map[int][]string{}
	for i := range 12 {
		owner := polydev.NewID()
		if i == 0 {
			owner = polydev.PlatformOwner
		}
		kek := 1 + i%4 // 1, 2, 3, 4, 1, ...
		newDataKey(t, s, owner, kek, now)
		byKEK[kek] = append(byKEK[kek], owner)
	}
	// Keys older than v3: kek 1 and 2, in owner order.
	want := slices.Sorted(slices.Values(append(slices.Clone(byKEK[1]), byKEK[2]...)))

	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatal("DataKeysBefore does not advance")
		}
		rows, err := s.DataKeysBefore(ctx(t), 3, after, 2)
		must(t, err)
		if len(rows) > 2 {
			t.Fatalf("page of %d rows, limit 2", len(rows))
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			if r.KEKVersion >= 3 {
				t.Fatalf("DataKeysBefore(3) returned a key on v%d", r.KEKVersion)
			}
			mustDataKeyEqual(t, r, getDataKey(t, s, r.OwnerID))
			got = append(got, r.OwnerID)
		}
		after = rows[len(rows)-1].OwnerID
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged owners = %v\nwant %v", got, want)
	}

	// Resuming from the middle lists only what is left.
	rows, err := s.DataKeysBefore(ctx(t), 3, want[2], 100)
	must(t, err)
	var rest []string
	for _, r := range rows {
		rest = append(rest, r.OwnerID)
	}
	if !slices.Equal(rest, want[3:]) {
		t.Fatalf("resumed owners = %v, want %v", rest, want[3:])
	}

	rows, err = s.DataKeysBefore(ctx(t), 1, "", 100)
	must(t, err)
	if len(rows) != 0 {
		t.Fatalf("DataKeysBefore(1) = %d rows, want none", len(rows))
	}
	rows, err = s.DataKeysBefore(ctx(t), 5, "", 100)
	must(t, err)
	if len(rows) != 12 {
		t.Fatalf("DataKeysBefore(5) = %d rows, want 12", len(rows))
	}
}

func testSwapDataKey(t *testing.T, s polydev.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	k := newDataKey(t, s, polydev.NewID(), 1, now.Add(-time.Hour))
	other := newDataKey(t, s, polydev.NewID(), 1, now.Add(-time.Hour))

	wrapped := binarySecret(0x02)
	ok, err := s.SwapDataKey(ctx(t), k.OwnerID, 1, wrapped, 2, now)
	must(t, err)
	if !ok {
		t.Fatal("first swap did not happen")
	}
	want := *k
	want.Wrapped, want.KEKVersion, want.UpdatedAt = wrapped, 2, now
	mustDataKeyEqual(t, getDataKey(t, s, k.OwnerID), &want)
	if !bytes.Equal(getDataKey(t, s, k.OwnerID).Wrapped, wrapped) {
		t.Fatal("wrapped bytes changed in the round trip")
	}

	// A second swapper that read the key before the first swap holds a stale old version: it loses.
	ok, err = s.SwapDataKey(ctx(t), k.OwnerID, 1, []byte("stale"), 3, now.Add(time.Minute))
	must(t, err)
	if ok {
		t.Fatal("swap with a stale old KEK version succeeded")
	}
	mustDataKeyEqual(t, getDataKey(t, s, k.OwnerID), &want)
	mustDataKeyEqual(t, getDataKey(t, s, other.OwnerID), other)

	ok, err = s.SwapDataKey(ctx(t), polydev.NewID(), 1, []byte("x"), 2, now)
	must(t, err)
	if ok {
		t.Fatal("swap of a missing owner's key succeeded")
	}
}

func testCountDataKeysByKEK(t *testing.T, s polydev.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	counts, err := s.CountDataKeysByKEK(ctx(t))
	must(t, err)
	if len(counts) != 0 {
		t.Fatalf("empty store counts = %v", counts)
	}
	a := newDataKey(t, s, polydev.NewID(), 1, now)
	newDataKey(t, s, polydev.NewID(), 1, now)
	newDataKey(t, s, polydev.PlatformOwner, 2, now)
	counts, err = s.CountDataKeysByKEK(ctx(t))
	must(t, err)
	if want := map[int]int{1: 2, 2: 1}; !reflect.DeepEqual(counts, want) {
		t.Fatalf("counts = %v, want %v", counts, want)
	}
	ok, err := s.SwapDataKey(ctx(t), a.OwnerID, 1, []byte("w"), 2, now)
	must(t, err)
	if !ok {
		t.Fatal("swap did not happen")
	}
	counts, err = s.CountDataKeysByKEK(ctx(t))
	must(t, err)
	if want := map[int]int{1: 1, 2: 2}; !reflect.DeepEqual(counts, want) {
		t.Fatalf("counts after swap = %v, want %v", counts, want)
	}
}
