package vault

import (
	"bytes"
	"errors"
	"testing"
)

func TestWrapUnwrapDEK(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, map[int][]byte{1: testKey(1)})
	dek, wrapped, v, err := kr.WrapDEK("user-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(dek) != KeySize || v != 1 || len(wrapped) != overhead+KeySize {
		t.Fatalf("WrapDEK: len(dek)=%d v=%d len(wrapped)=%d", len(dek), v, len(wrapped))
	}
	got, err := kr.UnwrapDEK("user-1", wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, dek) {
		t.Error("unwrapped DEK differs")
	}
	if _, err := kr.UnwrapDEK("user-2", wrapped); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other owner: err = %v, want ErrDecrypt", err)
	}
	other := mustKeyring(t, map[int][]byte{1: testKey(2)})
	if _, err := other.UnwrapDEK("user-1", wrapped); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other keyring: err = %v, want ErrDecrypt", err)
	}
	if _, _, _, err := kr.WrapDEK(""); err == nil {
		t.Error("WrapDEK with empty owner: want error")
	}
}

func TestUnwrapDEKRefusesEveryFlippedByte(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, map[int][]byte{1: testKey(1)})
	_, wrapped, _, err := kr.WrapDEK("user-1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range wrapped {
		bad := bytes.Clone(wrapped)
		bad[i] ^= 0x01
		// Flipping the version can name a version the keyring lacks; that
		// is reported as such, and is still a failure.
		_, err := kr.UnwrapDEK("user-1", bad)
		if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrUnknownKeyVersion) {
			t.Fatalf("byte %d: err = %v", i, err)
		}
	}
	for n := range len(wrapped) {
		if _, err := kr.UnwrapDEK("user-1", wrapped[:n]); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("truncated to %d: err = %v", n, err)
		}
	}
}

// TestRotation walks the procedure in FORMAT.md: rotate, keep opening old
// blobs, rewrap them, retire the old version.
func TestRotation(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, map[int][]byte{1: testKey(1)})
	sealer := NewSealer(kr)
	dek, oldWrapped, _, err := kr.WrapDEK("user-1")
	if err != nil {
		t.Fatal(err)
	}
	value, err := Seal(dek, 1, testAAD, []byte("user secret"))
	if err != nil {
		t.Fatal(err)
	}
	oldSecret, err := sealer.Seal(testAAD, []byte("platform secret"))
	if err != nil {
		t.Fatal(err)
	}

	if v, err := kr.Rotate(); err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want 2", v, err)
	}
	if got := kr.Versions(); len(got) != 2 || kr.Active() != 2 {
		t.Fatalf("after Rotate: versions %v active %d", got, kr.Active())
	}
	if _, err := kr.UnwrapDEK("user-1", oldWrapped); err != nil {
		t.Fatalf("v1 DEK after Rotate: %v", err)
	}
	if _, newWrapped, v, err := kr.WrapDEK("user-2"); err != nil || v != 2 {
		t.Fatalf("WrapDEK after Rotate: v=%d err=%v", v, err)
	} else if ev, _ := EnvelopeVersion(newWrapped); ev != 2 {
		t.Fatalf("new wrap records v%d", ev)
	}

	rewrapped, v, err := kr.Rewrap("user-1", oldWrapped)
	if err != nil || v != 2 {
		t.Fatalf("Rewrap = v%d, %v", v, err)
	}
	if ev, _ := EnvelopeVersion(rewrapped); ev != 2 {
		t.Fatalf("rewrapped blob records v%d", ev)
	}
	newSecret, v, err := sealer.Reseal(testAAD, oldSecret)
	if err != nil || v != 2 {
		t.Fatalf("Reseal = v%d, %v", v, err)
	}

	if err := kr.Retire(1); err != nil {
		t.Fatal(err)
	}
	if _, err := kr.UnwrapDEK("user-1", oldWrapped); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Errorf("v1 DEK after Retire: err = %v, want ErrUnknownKeyVersion", err)
	}
	if _, err := sealer.Open(testAAD, oldSecret); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Errorf("v1 secret after Retire: err = %v, want ErrUnknownKeyVersion", err)
	}
	// The DEK is unchanged, so the value sealed before rotation still opens.
	dek2, err := kr.UnwrapDEK("user-1", rewrapped)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(dek2, testAAD, value); err != nil || string(got) != "user secret" {
		t.Errorf("value after rewrap: %q, %v", got, err)
	}
	if got, err := sealer.Open(testAAD, newSecret); err != nil || string(got) != "platform secret" {
		t.Errorf("secret after reseal: %q, %v", got, err)
	}
}

func TestRetireRules(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, map[int][]byte{1: testKey(1), 3: testKey(3)})
	if err := kr.Retire(3); err == nil {
		t.Error("retiring the active version: want error")
	}
	if err := kr.Retire(2); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Errorf("retiring a missing version: err = %v", err)
	}
	if err := kr.Retire(1); err != nil {
		t.Fatal(err)
	}
	if v, err := kr.Rotate(); err != nil || v != 4 {
		t.Errorf("Rotate after gap = %d, %v; want 4", v, err)
	}
}

// TestConcurrentUse is for -race: wraps and unwraps while the keyring rotates
// and retires underneath them.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, map[int][]byte{1: testKey(1)})
	_, stable, _, err := kr.WrapDEK("u")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			v, err := kr.Rotate()
			if err != nil {
				t.Error(err)
				return
			}
			if v > 3 {
				if err := kr.Retire(v - 1); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for range 200 {
		_, w, _, err := kr.WrapDEK("u")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kr.UnwrapDEK("u", w); err != nil && !errors.Is(err, ErrUnknownKeyVersion) {
			t.Fatal(err)
		}
		if _, err := kr.UnwrapDEK("u", stable); err != nil {
			t.Fatal(err)
		}
	}
	<-done
}
