package vault

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// LoadKeyring parses the POLYDEV_MASTER_KEY format. It is either one base64
// key (standard or URL alphabet, padded or not) that becomes version 1, or a
// comma-separated list "v1:BASE64,v2:BASE64" whose highest version is active.
// Surrounding whitespace is ignored. Errors name the entry, never its text,
// because a typo in the version can leave a key where the version should be.
func LoadKeyring(spec string) (*Keyring, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("vault: master key is empty")
	}
	// ':' and ',' are in neither base64 alphabet, so they mark the list form.
	if !strings.ContainsAny(spec, ":,") {
		key, err := decodeKey(spec)
		if err != nil {
			return nil, fmt.Errorf("vault: master key: %w", err)
		}
		return newKeyring(map[int][]byte{1: key}), nil
	}
	keys := make(map[int][]byte)
	for i, entry := range strings.Split(spec, ",") {
		if err := addEntry(keys, strings.TrimSpace(entry)); err != nil {
			clearKeys(keys)
			return nil, fmt.Errorf("vault: master key entry %d: %w", i+1, err)
		}
	}
	return newKeyring(keys), nil
}

// addEntry parses one "vN:BASE64" entry into keys, refusing duplicates so a
// pasted list cannot silently pick one of two different keys for a version.
func addEntry(keys map[int][]byte, entry string) error {
	label, encoded, ok := strings.Cut(entry, ":")
	if !ok {
		return errors.New(`want "v<N>:<base64 key>"`)
	}
	version, err := parseVersion(label)
	if err != nil {
		return err
	}
	if _, dup := keys[version]; dup {
		return fmt.Errorf("duplicate version v%d", version)
	}
	key, err := decodeKey(encoded)
	if err != nil {
		return fmt.Errorf("v%d: %w", version, err)
	}
	keys[version] = key
	return nil
}

func parseVersion(label string) (int, error) {
	digits, ok := strings.CutPrefix(strings.TrimSpace(label), "v")
	// ParseUint with base 10 refuses signs and underscores; the error it
	// returns quotes its input, so it is replaced rather than wrapped.
	n, err := strconv.ParseUint(digits, 10, 32)
	if !ok || err != nil || n == 0 || n > maxVersion {
		return 0, fmt.Errorf("version must be v<N> with 1 <= N <= %d", maxVersion)
	}
	return int(n), nil
}

// keyEncodings are tried in turn. Strict decoding refuses non-zero padding
// bits, so each key has exactly one spelling per alphabet.
var keyEncodings = []*base64.Encoding{
	base64.StdEncoding.Strict(),
	base64.RawStdEncoding.Strict(),
	base64.URLEncoding.Strict(),
	base64.RawURLEncoding.Strict(),
}

// decodeKey returns a 32-byte key. Its errors carry neither the input nor
// base64's own error, which would give an offset into the secret.
func decodeKey(encoded string) ([]byte, error) {
	encoded = strings.TrimSpace(encoded)
	for _, enc := range keyEncodings {
		key, err := enc.DecodeString(encoded)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			n := len(key)
			clear(key)
			return nil, fmt.Errorf("key is %d bytes, want %d", n, KeySize)
		}
		return key, nil
	}
	return nil, errors.New("key is not valid base64")
}

func clearKeys(keys map[int][]byte) {
	for _, k := range keys {
		clear(k)
	}
}
