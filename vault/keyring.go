package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
)

// KeySize is the length in bytes of every key the vault handles: KEKs and DEKs
// are both AES-256 keys.
const KeySize = 32

// maxVersion keeps versions inside the envelope's uint32 field and inside int
// on 32-bit platforms, so a version means the same thing everywhere.
const maxVersion = math.MaxInt32

// Keyring holds the versioned master keys (KEKs). The highest version is the
// active one and is used for every new wrap; older versions stay only to open
// what they wrapped until a rewrap has moved it. A Keyring is safe for
// concurrent use, so the rewrap job can run while requests wrap and unwrap.
//
// Formatting a Keyring with fmt or slog prints versions only, never keys.
type Keyring struct {
	mu     sync.RWMutex
	keys   map[int][]byte
	active int
}

// NewKeyring builds a keyring from version → 32-byte key. Versions must be in
// 1..2^31-1. The keys are copied, so the caller may clear its map afterwards.
func NewKeyring(keys map[int][]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: keyring needs at least one key")
	}
	owned := make(map[int][]byte, len(keys))
	for v, k := range keys {
		if err := checkVersion(v); err != nil {
			return nil, err
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("vault: key v%d is %d bytes, want %d", v, len(k), KeySize)
		}
		owned[v] = bytes.Clone(k)
	}
	return newKeyring(owned), nil
}

// newKeyring takes ownership of already validated keys.
func newKeyring(keys map[int][]byte) *Keyring {
	kr := &Keyring{keys: keys}
	for v := range keys {
		kr.active = max(kr.active, v)
	}
	return kr
}

// Active returns the version used for new wraps.
func (kr *Keyring) Active() int {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.active
}

// Versions returns every version held, ascending.
func (kr *Keyring) Versions() []int {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return slices.Sorted(maps.Keys(kr.keys))
}

// Rotate adds version Active()+1 with a fresh random key and makes it active,
// in memory only. A keyring loaded from a key file should use RotateFile
// instead, or the new key is lost at restart along with everything it wrapped.
func (kr *Keyring) Rotate() (int, error) { return kr.rotate("") }

// Retire forgets a version, in memory only (see RetireFile). The caller must
// first make sure nothing is still wrapped under it (EnvelopeVersion on every
// stored blob); afterwards those blobs fail with ErrUnknownKeyVersion. The
// active version cannot be retired.
func (kr *Keyring) Retire(version int) error { return kr.retire("", version) }

func (kr *Keyring) rotate(path string) (int, error) {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if kr.active >= maxVersion {
		return 0, errors.New("vault: no key versions left to rotate to")
	}
	key, err := randomKey()
	if err != nil {
		return 0, err
	}
	next := kr.active + 1
	want := maps.Clone(kr.keys)
	want[next] = key
	// Persist before activating: nothing may be encrypted under a key that
	// would not survive a restart.
	if err := kr.persist(path, want); err != nil {
		clear(key)
		return 0, err
	}
	kr.keys[next] = key
	kr.active = next
	return next, nil
}

func (kr *Keyring) retire(path string, version int) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	key, ok := kr.keys[version]
	if !ok {
		return unknownVersion(version)
	}
	if version == kr.active {
		return fmt.Errorf("vault: cannot retire active key v%d; rotate first", version)
	}
	want := maps.Clone(kr.keys)
	delete(want, version)
	if err := kr.persist(path, want); err != nil {
		return err
	}
	delete(kr.keys, version)
	// Safe to clear: AEADs built from it own a copy of the key schedule.
	clear(key)
	return nil
}

// aead returns the cipher for one version. It is built under the read lock so
// that Retire cannot clear the key while aes.NewCipher is reading it.
func (kr *Keyring) aead(version int) (cipher.AEAD, error) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	key, ok := kr.keys[version]
	if !ok {
		return nil, unknownVersion(version)
	}
	return newGCM(key)
}

func (kr *Keyring) activeAEAD() (cipher.AEAD, int, error) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	key, ok := kr.keys[kr.active]
	if !ok {
		return nil, 0, errors.New("vault: keyring is empty")
	}
	a, err := newGCM(key)
	return a, kr.active, err
}

func unknownVersion(version int) error {
	return fmt.Errorf("%w: v%d", ErrUnknownKeyVersion, version)
}

func checkVersion(v int) error {
	if v < 1 || v > maxVersion {
		return fmt.Errorf("vault: key version %d out of range 1..%d", v, maxVersion)
	}
	return nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func randomKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("vault: reading random key: %w", err)
	}
	return key, nil
}
