package vault

import (
	"bytes"
	"testing"
)

// testKey returns a recognisable 32-byte key; b makes keys differ.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustKeyring(t testing.TB, keys map[int][]byte) *Keyring {
	t.Helper()
	kr, err := NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

var testAAD = AAD{Table: "provider_keys", Column: "api_key", RowID: "row-1", UserID: "user-1"}
