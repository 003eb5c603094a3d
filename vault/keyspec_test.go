package vault

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
)

func TestLoadKeyring(t *testing.T) {
	t.Parallel()
	k1, k2 := testKey(0xFB), testKey(0xBF) // 0xFB.. and 0xBF.. differ in std and URL alphabets
	std := base64.StdEncoding.EncodeToString
	tests := []struct {
		name     string
		spec     string
		versions []int
		keys     map[int][]byte
	}{
		{"single std", std(k1), []int{1}, map[int][]byte{1: k1}},
		{"single std unpadded", base64.RawStdEncoding.EncodeToString(k1), []int{1}, map[int][]byte{1: k1}},
		{"single url", base64.URLEncoding.EncodeToString(k1), []int{1}, map[int][]byte{1: k1}},
		{"single url unpadded", base64.RawURLEncoding.EncodeToString(k1), []int{1}, map[int][]byte{1: k1}},
		{"single with newline", std(k1) + "\n", []int{1}, map[int][]byte{1: k1}},
		{"list", "v1:" + std(k1) + ",v2:" + std(k2), []int{1, 2}, map[int][]byte{1: k1, 2: k2}},
		{"list unordered with spaces", " v7:" + std(k2) + " , v3:" + std(k1), []int{3, 7}, map[int][]byte{3: k1, 7: k2}},
		{"list of one", "v5:" + std(k1), []int{5}, map[int][]byte{5: k1}},
	}
	for _, tt := range tests {
		kr, err := LoadKeyring(tt.spec)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := kr.Versions(); !slices.Equal(got, tt.versions) {
			t.Errorf("%s: versions %v, want %v", tt.name, got, tt.versions)
		}
		if want := tt.versions[len(tt.versions)-1]; kr.Active() != want {
			t.Errorf("%s: active %d, want %d", tt.name, kr.Active(), want)
		}
		if !sameKeys(kr.keys, tt.keys) {
			t.Errorf("%s: keys differ", tt.name)
		}
	}
}

func TestLoadKeyringErrors(t *testing.T) {
	t.Parallel()
	key := testKey(0x5A)
	enc := base64.StdEncoding.EncodeToString(key)
	short := base64.StdEncoding.EncodeToString(key[:31])
	long := base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 1))
	tests := []struct {
		name, spec, wantIn string
	}{
		{"empty", "", "empty"},
		{"blank", "  \n", "empty"},
		{"bad base64", enc[:20] + "!" + enc[21:], "base64"},
		{"short key", short, "31 bytes"},
		{"long key", long, "33 bytes"},
		{"list bad base64", "v1:" + enc[:43] + "*", "base64"},
		{"list short key", "v1:" + short, "31 bytes"},
		{"duplicate version", "v1:" + enc + ",v1:" + enc, "duplicate version v1"},
		{"duplicate spelled differently", "v2:" + enc + ",v02:" + enc, "duplicate version v2"},
		{"v0", "v0:" + enc, "version must be"},
		{"negative", "v-1:" + enc, "version must be"},
		{"plus sign", "v+1:" + enc, "version must be"},
		{"no v", "1:" + enc, "version must be"},
		{"too large", "v2147483648:" + enc, "version must be"},
		{"key in version slot", enc + ":" + enc, "version must be"},
		{"missing colon", "v1:" + enc + "," + enc, "entry 2"},
		{"trailing comma", "v1:" + enc + ",", "entry 2"},
		{"empty key", "v1:", "bytes, want 32"},
		{"garbage", "hello, world: !!", "entry 1"},
		{"non-strict padding bits", enc[:42] + "B=", "base64"},
	}
	for _, tt := range tests {
		kr, err := LoadKeyring(tt.spec)
		if err == nil {
			t.Errorf("%s: loaded %v, want error", tt.name, kr)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tt.wantIn) {
			t.Errorf("%s: error %q does not mention %q", tt.name, msg, tt.wantIn)
		}
		assertNoSecret(t, tt.name, msg, tt.spec)
	}
}

// assertNoSecret fails if msg quotes any 12-character run of input that looks
// like base64, which is how key material would leak into an error.
func assertNoSecret(t *testing.T, name, msg, input string) {
	t.Helper()
	for _, field := range strings.FieldsFunc(input, func(r rune) bool { return r == ',' || r == ':' || r == ' ' }) {
		for i := 0; i+12 <= len(field); i++ {
			if strings.Contains(msg, field[i:i+12]) {
				t.Errorf("%s: error %q quotes the input", name, msg)
				return
			}
		}
	}
}
