package vault

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// The vectors below were computed independently (Python's cryptography
// AESGCM, following FORMAT.md), not by this package. If a change to the code
// makes one fail, the stored format has changed: bump the format byte instead.
var (
	katKey   = seq(0x00, KeySize)
	katNonce = seq(0xA0, nonceSize)
	katDEK   = seq(0x40, KeySize)
	katText  = []byte("sk-test-0123456789")
)

func TestKnownAnswers(t *testing.T) {
	t.Parallel()
	aead, err := newGCM(katKey)
	if err != nil {
		t.Fatal(err)
	}
	valueAAD, _ := testAAD.encode()
	emptyAAD, _ := AAD{Table: "t", Column: "c"}.encode()
	owner, _ := ownerBinding("user-1")
	tests := []struct {
		name      string
		kind      kind
		version   int
		binding   []byte
		plaintext []byte
		want      string
	}{
		{"value", kindValue, 3, valueAAD, katText,
			"f5010100000003a0a1a2a3a4a5a6a7a8a9aaab9573515920b876925254b5e0334ff6e948953ba40178d26a334d3a79fe5adcc8303f"},
		{"wrapped DEK", kindDEK, 2, owner, katDEK,
			"f5010200000002a0a1a2a3a4a5a6a7a8a9aaaba6593e6e018e44f82a2ccd984b378e9120fd0b43c6e2143bc4577cdd23f62b5eb1768783632d090532c429351369d273"},
		{"secret", kindSecret, 1, valueAAD, katText,
			"f5010300000001a0a1a2a3a4a5a6a7a8a9aaab9573515920b876925254b5e0334ff6e94895ca9356e2c5c6deff737fcdd719a11063"},
		{"empty value", kindValue, 1, emptyAAD, nil,
			"f5010100000001a0a1a2a3a4a5a6a7a8a9aaabea1c14a7ccdd1c28b09c7972ad799869"},
	}
	for _, tt := range tests {
		got := sealWithNonce(aead, tt.kind, tt.version, katNonce, tt.binding, tt.plaintext)
		if hex.EncodeToString(got) != tt.want {
			t.Errorf("%s:\n got %x\nwant %s", tt.name, got, tt.want)
		}
	}
}

// TestKnownAnswersOpen checks that the public API opens the vectors, so the
// vectors describe what is actually stored and read.
func TestKnownAnswersOpen(t *testing.T) {
	t.Parallel()
	value, _ := hex.DecodeString("f5010100000003a0a1a2a3a4a5a6a7a8a9aaab9573515920b876925254b5e0334ff6e948953ba40178d26a334d3a79fe5adcc8303f")
	if got, err := Open(katKey, testAAD, value); err != nil || !bytes.Equal(got, katText) {
		t.Errorf("Open(value) = %q, %v", got, err)
	}
	wrapped, _ := hex.DecodeString("f5010200000002a0a1a2a3a4a5a6a7a8a9aaaba6593e6e018e44f82a2ccd984b378e9120fd0b43c6e2143bc4577cdd23f62b5eb1768783632d090532c429351369d273")
	kr := mustKeyring(t, map[int][]byte{2: katKey})
	if got, err := kr.UnwrapDEK("user-1", wrapped); err != nil || !bytes.Equal(got, katDEK) {
		t.Errorf("UnwrapDEK = %x, %v", got, err)
	}
	secret, _ := hex.DecodeString("f5010300000001a0a1a2a3a4a5a6a7a8a9aaab9573515920b876925254b5e0334ff6e94895ca9356e2c5c6deff737fcdd719a11063")
	kr1 := mustKeyring(t, map[int][]byte{1: katKey})
	if got, err := NewSealer(kr1).Open(testAAD, secret); err != nil || !bytes.Equal(got, katText) {
		t.Errorf("Sealer.Open = %q, %v", got, err)
	}
}

func seq(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}
