package vault

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// Vault encrypts owners' data at rest: each owner (a user, or polydev.PlatformOwner) has a data key
// (DEK) stored wrapped by the active master key; values are sealed with the owner's DEK and associated
// data bound to their row. Unwrapped DEKs are cached in memory, so the hot path does one AES-GCM
// operation per value.
type Vault struct {
	kr      *Keyring
	store   polydev.DataKeyStore
	keyFile string // "" when the keys come from POLYDEV_MASTER_KEY
	now     func() time.Time

	mu   sync.RWMutex
	deks map[string]cachedDEK
}

type cachedDEK struct {
	key     []byte
	version int
}

// maxCachedDEKs bounds the DEK cache; past it the cache starts over (DEKs are re-unwrapped on demand).
const maxCachedDEKs = 50_000

// NewVault returns a vault over kr whose DEKs live in store. keyFile, when not empty, is where kr came
// from; the vault reloads it when it meets a key version it does not hold (another process rotated).
func NewVault(kr *Keyring, store polydev.DataKeyStore, keyFile string) *Vault {
	return &Vault{kr: kr, store: store, keyFile: keyFile, now: polydev.Now, deks: map[string]cachedDEK{}}
}

// Keyring returns the vault's master keys.
func (v *Vault) Keyring() *Keyring { return v.kr }

// Seal encrypts plaintext for owner, binding aad (whose UserID is set to owner). It creates the
// owner's DEK on first use. It returns the envelope and the DEK version to record with the row.
func (v *Vault) Seal(ctx context.Context, owner string, aad AAD, plaintext []byte) ([]byte, int, error) {
	dek, err := v.dek(ctx, owner, true)
	if err != nil {
		return nil, 0, err
	}
	aad.UserID = owner
	env, err := Seal(dek.key, dek.version, aad, plaintext)
	return env, dek.version, err
}

// Open decrypts an envelope that Seal made for owner and the same aad.
func (v *Vault) Open(ctx context.Context, owner string, aad AAD, envelope []byte) ([]byte, error) {
	dek, err := v.dek(ctx, owner, false)
	if err != nil {
		return nil, err
	}
	aad.UserID = owner
	return Open(dek.key, aad, envelope)
}

func (v *Vault) dek(ctx context.Context, owner string, create bool) (cachedDEK, error) {
	if owner == "" {
		return cachedDEK{}, errors.New("vault: owner is empty")
	}
	v.mu.RLock()
	c, ok := v.deks[owner]
	v.mu.RUnlock()
	if ok {
		return c, nil
	}
	row, err := v.store.DataKey(ctx, owner)
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		if !create {
			return cachedDEK{}, ErrDecrypt // nothing was ever sealed for this owner
		}
		row, err = v.createDEK(ctx, owner)
	}
	if err != nil {
		return cachedDEK{}, err
	}
	key, err := v.unwrap(owner, row.Wrapped)
	if err != nil {
		return cachedDEK{}, err
	}
	c = cachedDEK{key: key, version: row.Version}
	v.mu.Lock()
	if len(v.deks) >= maxCachedDEKs {
		v.deks = map[string]cachedDEK{}
	}
	v.deks[owner] = c
	v.mu.Unlock()
	return c, nil
}

// createDEK makes and stores the owner's DEK; if a concurrent writer stored one first, that one wins.
func (v *Vault) createDEK(ctx context.Context, owner string) (*polydev.DataKey, error) {
	_, wrapped, kek, err := v.kr.WrapDEK(owner)
	if err != nil {
		return nil, err
	}
	now := v.now()
	row := &polydev.DataKey{OwnerID: owner, Version: 1, Wrapped: wrapped, KEKVersion: kek, CreatedAt: now, UpdatedAt: now}
	err = v.store.CreateDataKey(ctx, row)
	if polydev.ErrorCode(err) == polydev.ECONFLICT {
		return v.store.DataKey(ctx, owner)
	}
	return row, err
}

// unwrap unwraps a DEK, reloading the key file once if the KEK version is unknown (rotated by another
// process since we loaded it). It retries even when this reload changed nothing: a concurrent request
// may have reloaded the new version in between our failed unwrap and our reload.
func (v *Vault) unwrap(owner string, wrapped []byte) ([]byte, error) {
	key, err := v.kr.UnwrapDEK(owner, wrapped)
	if errors.Is(err, ErrUnknownKeyVersion) && v.keyFile != "" {
		if _, rerr := v.kr.ReloadFile(v.keyFile); rerr == nil {
			key, err = v.kr.UnwrapDEK(owner, wrapped)
		}
	}
	return key, err
}

// Reload re-reads the key file, if the vault has one, and reports whether the versions changed.
func (v *Vault) Reload() (bool, error) {
	if v.keyFile == "" {
		return false, nil
	}
	return v.kr.ReloadFile(v.keyFile)
}
