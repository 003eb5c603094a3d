package vault

import (
	"bytes"
	"errors"
	"testing"
)

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	for _, pt := range [][]byte{nil, {}, []byte("sk-live-123"), bytes.Repeat([]byte{0xAB}, 4096)} {
		env, err := Seal(testKey(1), 7, testAAD, pt)
		if err != nil {
			t.Fatal(err)
		}
		if len(env) != overhead+len(pt) {
			t.Errorf("len = %d, want %d", len(env), overhead+len(pt))
		}
		got, err := Open(testKey(1), testAAD, env)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, want %q", got, pt)
		}
		if v, err := EnvelopeVersion(env); err != nil || v != 7 {
			t.Errorf("EnvelopeVersion = %d, %v; want 7", v, err)
		}
	}
}

func TestOpenRefusesMovedCiphertext(t *testing.T) {
	t.Parallel()
	env, err := Seal(testKey(1), 1, testAAD, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	moved := func(f func(*AAD)) AAD { a := testAAD; f(&a); return a }
	tests := []struct {
		name string
		aad  AAD
	}{
		{"other table", moved(func(a *AAD) { a.Table = "users" })},
		{"other column", moved(func(a *AAD) { a.Column = "other" })},
		{"other row", moved(func(a *AAD) { a.RowID = "row-2" })},
		{"other user", moved(func(a *AAD) { a.UserID = "user-2" })},
		{"no user", moved(func(a *AAD) { a.UserID = "" })},
		{"row and user swapped", moved(func(a *AAD) { a.RowID, a.UserID = a.UserID, a.RowID })},
	}
	for _, tt := range tests {
		if _, err := Open(testKey(1), tt.aad, env); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: err = %v, want ErrDecrypt", tt.name, err)
		}
	}
	if _, err := Open(testKey(2), testAAD, env); !errors.Is(err, ErrDecrypt) {
		t.Errorf("other key: err = %v, want ErrDecrypt", err)
	}
}

func TestOpenRefusesEveryFlippedByte(t *testing.T) {
	t.Parallel()
	env, err := Seal(testKey(1), 1, testAAD, []byte("secret value"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range env {
		for _, mask := range []byte{0x01, 0x80, 0xFF} {
			bad := bytes.Clone(env)
			bad[i] ^= mask
			if _, err := Open(testKey(1), testAAD, bad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("byte %d ^ %#x: err = %v, want ErrDecrypt", i, mask, err)
			}
		}
	}
}

func TestOpenRefusesTruncationAndExtension(t *testing.T) {
	t.Parallel()
	env, err := Seal(testKey(1), 1, testAAD, []byte("secret value"))
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(env) {
		if _, err := Open(testKey(1), testAAD, env[:n]); !errors.Is(err, ErrDecrypt) {
			t.Fatalf("truncated to %d: err = %v, want ErrDecrypt", n, err)
		}
	}
	if _, err := Open(testKey(1), testAAD, append(bytes.Clone(env), 0)); !errors.Is(err, ErrDecrypt) {
		t.Errorf("extended: err = %v, want ErrDecrypt", err)
	}
}

func TestSealIsRandomised(t *testing.T) {
	t.Parallel()
	a, err := Seal(testKey(1), 1, testAAD, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Seal(testKey(1), 1, testAAD, []byte("same"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a, b) {
		t.Error("sealing the same value twice gave the same bytes")
	}
	if bytes.Equal(a[headerSize:headerSize+nonceSize], b[headerSize:headerSize+nonceSize]) {
		t.Error("nonce repeated")
	}
}

func TestSealRejectsBadArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     []byte
		version int
	}{
		{"nil key", nil, 1},
		{"AES-128 key", make([]byte, 16), 1},
		{"long key", make([]byte, 33), 1},
		{"version 0", testKey(1), 0},
		{"negative version", testKey(1), -1},
		{"version too large", testKey(1), maxVersion + 1},
	}
	for _, tt := range tests {
		if _, err := Seal(tt.key, tt.version, testAAD, []byte("x")); err == nil {
			t.Errorf("%s: want error", tt.name)
		}
	}
	if _, err := Open(make([]byte, 16), testAAD, nil); err == nil || errors.Is(err, ErrDecrypt) {
		t.Errorf("Open with short key: err = %v, want a key-size error", err)
	}
}

// TestKindsDoNotMix checks that the three envelope kinds cannot stand in for
// each other, even when the same 32 bytes are used as the key.
func TestKindsDoNotMix(t *testing.T) {
	t.Parallel()
	kr := mustKeyring(t, map[int][]byte{1: testKey(1)})
	sealer := NewSealer(kr)
	value, err := Seal(testKey(1), 1, testAAD, []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := sealer.Seal(testAAD, []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	_, wrapped, _, err := kr.WrapDEK("user-1")
	if err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string][]byte{"value": value, "secret": secret, "wrapped DEK": wrapped} {
		if name != "value" {
			if _, err := Open(testKey(1), testAAD, env); !errors.Is(err, ErrDecrypt) {
				t.Errorf("Open(%s): err = %v, want ErrDecrypt", name, err)
			}
		}
		if name != "secret" {
			if _, err := sealer.Open(testAAD, env); !errors.Is(err, ErrDecrypt) {
				t.Errorf("Sealer.Open(%s): err = %v, want ErrDecrypt", name, err)
			}
		}
		if name != "wrapped DEK" {
			if _, err := kr.UnwrapDEK("user-1", env); !errors.Is(err, ErrDecrypt) {
				t.Errorf("UnwrapDEK(%s): err = %v, want ErrDecrypt", name, err)
			}
		}
	}
}

func TestEnvelopeVersionRejectsMalformed(t *testing.T) {
	t.Parallel()
	good, err := Seal(testKey(1), 1, testAAD, nil)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(i int, b byte) []byte { e := bytes.Clone(good); e[i] = b; return e }
	tests := map[string][]byte{
		"nil":             nil,
		"short":           good[:overhead-1],
		"bad magic":       mutate(0, 'v'),
		"future format":   mutate(1, 2),
		"unknown kind":    mutate(2, 9),
		"version 0":       append(append(bytes.Clone(good[:3]), 0, 0, 0, 0), good[7:]...),
		"version > int32": mutate(3, 0x80),
	}
	for name, env := range tests {
		if _, err := EnvelopeVersion(env); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: err = %v, want ErrDecrypt", name, err)
		}
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
	}
	for _, tt := range tests {
		if got := Equal([]byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}
