package vault

import (
	"errors"
	"strings"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to every function that parses an envelope.
// None may panic, and a failure must be one of the two documented errors.
func FuzzOpen(f *testing.F) {
	kr := mustKeyring(f, map[int][]byte{1: katKey, 2: testKey(2)})
	sealer := NewSealer(kr)
	value, _ := Seal(katKey, 1, testAAD, katText)
	secret, _ := sealer.Seal(testAAD, katText)
	_, wrapped, _, _ := kr.WrapDEK("user-1")
	for _, seed := range [][]byte{nil, {magic}, {magic, formatV1, 1, 0, 0, 0, 1}, value, secret, wrapped, value[:overhead]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, env []byte) {
		expect := func(what string, err error, known ...error) {
			for _, k := range known {
				if errors.Is(err, k) {
					return
				}
			}
			if err != nil {
				t.Fatalf("%s: unexpected error %v", what, err)
			}
		}
		_, err := Open(katKey, testAAD, env)
		expect("Open", err, ErrDecrypt)
		_, err = EnvelopeVersion(env)
		expect("EnvelopeVersion", err, ErrDecrypt)
		_, err = kr.UnwrapDEK("user-1", env)
		expect("UnwrapDEK", err, ErrDecrypt, ErrUnknownKeyVersion)
		_, err = sealer.Open(testAAD, env)
		expect("Sealer.Open", err, ErrDecrypt, ErrUnknownKeyVersion)
	})
}

// FuzzLoadKeyring checks that no spec panics, that errors never quote the
// spec, and that whatever loads survives a trip through the key file format.
func FuzzLoadKeyring(f *testing.F) {
	enc := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	for _, seed := range []string{"", enc, "v1:" + enc, "v1:" + enc + ",v2:" + enc, "v0:", ",", "v1:v1:", "v99999999999:" + enc, "\xff"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		kr, err := LoadKeyring(spec)
		if err != nil {
			msg := err.Error()
			for i := 0; i+32 <= len(spec); i++ {
				if strings.Contains(msg, spec[i:i+32]) {
					t.Fatalf("error %q quotes the spec", msg)
				}
			}
			return
		}
		keys, err := parseKeyFile(formatKeyFile(kr.keys))
		if err != nil {
			t.Fatalf("formatted keyring does not parse: %v", err)
		}
		if !sameKeys(keys, kr.keys) {
			t.Fatal("key file round trip changed the keys")
		}
		if vs := kr.Versions(); vs[len(vs)-1] != kr.Active() {
			t.Fatalf("active v%d is not the highest of %v", kr.Active(), vs)
		}
	})
}
