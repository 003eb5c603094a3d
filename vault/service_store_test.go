package vault_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/pgtest"
	"github.com/polydev/polydev/store/postgres"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/vault"
)

// opener opens the test's one database; every call is a new connection to the same data, as a
// restarted process or another replica would have.
type opener func(t *testing.T) polydev.Store

// forEachEngine runs fn against a fresh database on SQLite and on PostgreSQL (skipped, or failed, as
// pgtest decides when no test server is configured).
func forEachEngine(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "polydev.db")
		fn(t, func(t *testing.T) polydev.Store {
			t.Helper()
			db, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		fn(t, func(t *testing.T) polydev.Store {
			t.Helper()
			db, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

// newKeyFile creates a key file holding a random v1 and returns its path and keyring.
func newKeyFile(t *testing.T) (string, *vault.Keyring) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys", "master.keys")
	kr, created, err := vault.LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreateKeyFile = created %v, %v", created, err)
	}
	return path, kr
}

func loadKeyFile(t *testing.T, path string) *vault.Keyring {
	t.Helper()
	kr, err := vault.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// value is a secret sealed for an owner, as a row would hold it.
type value struct {
	owner string
	aad   vault.AAD
	plain []byte
	env   []byte
}

func sealValue(ctx context.Context, v *vault.Vault, owner string) (value, error) {
	val := value{
		owner: owner,
		aad:   vault.AAD{Table: "provider_keys", Column: "secret", RowID: polydev.NewID()},
		plain: []byte("sk-live-" + polydev.NewID()),
	}
	env, dekVersion, err := v.Seal(ctx, owner, val.aad, val.plain)
	if err != nil {
		return value{}, fmt.Errorf("seal for %s: %w", owner, err)
	}
	if dekVersion != 1 {
		return value{}, fmt.Errorf("seal for %s: DEK version %d, want 1", owner, dekVersion)
	}
	val.env = env
	return val, nil
}

func (val value) open(ctx context.Context, v *vault.Vault) error {
	got, err := v.Open(ctx, val.owner, val.aad, val.env)
	if err != nil {
		return fmt.Errorf("open for %s: %w", val.owner, err)
	}
	if !bytes.Equal(got, val.plain) {
		return fmt.Errorf("open for %s: got %q, want %q", val.owner, got, val.plain)
	}
	return nil
}

func mustSeal(t *testing.T, v *vault.Vault, owner string) value {
	t.Helper()
	val, err := sealValue(t.Context(), v, owner)
	if err != nil {
		t.Fatal(err)
	}
	return val
}

func mustOpenAll(t *testing.T, v *vault.Vault, vals []value) {
	t.Helper()
	for _, val := range vals {
		if err := val.open(t.Context(), v); err != nil {
			t.Fatal(err)
		}
	}
}

func mustCounts(t *testing.T, s polydev.DataKeyStore, want map[int]int) {
	t.Helper()
	got, err := s.CountDataKeysByKEK(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CountDataKeysByKEK = %v, want %v", got, want)
	}
}

func TestVaultSealOpen(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open opener) {
		s := open(t)
		kr, err := vault.NewKeyring(map[int][]byte{1: bytes.Repeat([]byte{7}, vault.KeySize)})
		if err != nil {
			t.Fatal(err)
		}
		v := vault.NewVault(kr, s, "")
		ctx := t.Context()

		user, other := polydev.NewID(), polydev.NewID()
		vals := []value{mustSeal(t, v, user), mustSeal(t, v, polydev.PlatformOwner), mustSeal(t, v, other)}
		mustOpenAll(t, v, vals)
		mustOpenAll(t, vault.NewVault(kr, s, ""), vals) // uncached: unwraps the stored DEKs
		mustCounts(t, s, map[int]int{1: 3})

		for _, owner := range []string{user, polydev.PlatformOwner} {
			row, err := s.DataKey(ctx, owner)
			if err != nil {
				t.Fatal(err)
			}
			if row.Version != 1 || row.KEKVersion != 1 {
				t.Fatalf("data key of %s: version %d kek %d", owner, row.Version, row.KEKVersion)
			}
			// A wrapped DEK is bound to its owner.
			if _, err := kr.UnwrapDEK(other, row.Wrapped); !errors.Is(err, vault.ErrDecrypt) {
				t.Fatalf("DEK of %s unwrapped as %s: %v", owner, other, err)
			}
		}

		// A second value for an owner reuses the owner's DEK.
		vals = append(vals, mustSeal(t, v, user))
		mustCounts(t, s, map[int]int{1: 3})

		uv, pv := vals[0], vals[1]
		stranger := polydev.NewID() // has no data key at all
		for name, c := range map[string]struct {
			owner string
			aad   vault.AAD
			env   []byte
		}{
			"user value as other user":     {other, uv.aad, uv.env},
			"user value as platform":       {polydev.PlatformOwner, uv.aad, uv.env},
			"platform value as user":       {user, pv.aad, pv.env},
			"user value as stranger":       {stranger, uv.aad, uv.env},
			"user value, other row id":     {user, vault.AAD{Table: uv.aad.Table, Column: uv.aad.Column, RowID: polydev.NewID()}, uv.env},
			"user value, other column":     {user, vault.AAD{Table: uv.aad.Table, Column: "base_url", RowID: uv.aad.RowID}, uv.env},
			"platform value, other row id": {polydev.PlatformOwner, vault.AAD{Table: pv.aad.Table, Column: pv.aad.Column, RowID: vals[3].aad.RowID}, pv.env},
			"tampered envelope":            {user, uv.aad, append(bytes.Clone(uv.env[:len(uv.env)-1]), uv.env[len(uv.env)-1]^1)},
			"truncated envelope":           {user, uv.aad, uv.env[:len(uv.env)/2]},
		} {
			got, err := v.Open(ctx, c.owner, c.aad, c.env)
			if !errors.Is(err, vault.ErrDecrypt) || got != nil {
				t.Errorf("%s: Open = %q, %v; want ErrDecrypt", name, got, err)
			}
		}
		// Opening never creates a data key.
		if _, err := s.DataKey(ctx, stranger); polydev.ErrorCode(err) != polydev.ENOTFOUND {
			t.Fatalf("a failed Open created a data key for the stranger: %v", err)
		}
		if _, _, err := v.Seal(ctx, "", uv.aad, []byte("x")); err == nil {
			t.Fatal("Seal for an empty owner succeeded")
		}
		if _, err := v.Open(ctx, "", uv.aad, uv.env); err == nil {
			t.Fatal("Open for an empty owner succeeded")
		}
		mustCounts(t, s, map[int]int{1: 3})
	})
}

// TestVaultConcurrentFirstUse seals for one new owner from 20 goroutines at once, spread over four
// vaults (replicas) sharing the store: exactly one data key may be stored, and every value opens.
func TestVaultConcurrentFirstUse(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open opener) {
		path, kr := newKeyFile(t)
		vaults := make([]*vault.Vault, 4)
		for i := range vaults {
			vaults[i] = vault.NewVault(loadKeyFile(t, path), open(t), path)
		}
		owner := polydev.NewID()
		const n = 20
		vals := make([]value, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				vals[i], errs[i] = sealValue(t.Context(), vaults[i%len(vaults)], owner)
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}

		s := open(t)
		mustCounts(t, s, map[int]int{1: 1})
		for _, v := range vaults {
			mustOpenAll(t, v, vals)
		}
		mustOpenAll(t, vault.NewVault(kr, s, path), vals)
	})
}

// TestVaultKeyFileRotatedElsewhere: another process rotates the key file; a DEK it wraps under the
// new version must open through a vault that loaded the file before the rotation.
func TestVaultKeyFileRotatedElsewhere(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open opener) {
		path, krA := newKeyFile(t)
		vA := vault.NewVault(krA, open(t), path)
		before := mustSeal(t, vA, polydev.NewID())

		kr2 := loadKeyFile(t, path)
		if v, err := kr2.RotateFile(path); err != nil || v != 2 {
			t.Fatalf("RotateFile = %d, %v", v, err)
		}
		sB := open(t)
		vB := vault.NewVault(kr2, sB, path)
		after := mustSeal(t, vB, polydev.NewID())
		if row, err := sB.DataKey(t.Context(), after.owner); err != nil || row.KEKVersion != 2 {
			t.Fatalf("new data key: %+v, %v; want kek 2", row, err)
		}

		if krA.Active() != 1 {
			t.Fatalf("vault A's keyring changed before it needed to: active v%d", krA.Active())
		}
		mustOpenAll(t, vA, []value{after, before}) // reloads the key file on the unknown version
		if krA.Active() != 2 {
			t.Fatalf("vault A active v%d after reload, want 2", krA.Active())
		}
		// Vault A now wraps new DEKs under v2 as well.
		third := mustSeal(t, vA, polydev.NewID())
		if row, err := sB.DataKey(t.Context(), third.owner); err != nil || row.KEKVersion != 2 {
			t.Fatalf("vault A's new data key: %+v, %v; want kek 2", row, err)
		}
		mustOpenAll(t, vB, []value{before, after, third})
	})
}

// gatedKeys holds every DataKey lookup until n of them are in flight, so that n vaults requests meet
// an unknown key version at the same moment.
type gatedKeys struct {
	polydev.DataKeyStore
	armed atomic.Bool
	gate  sync.WaitGroup
}

func (g *gatedKeys) DataKey(ctx context.Context, owner string) (*polydev.DataKey, error) {
	k, err := g.DataKeyStore.DataKey(ctx, owner)
	if g.armed.Load() {
		g.gate.Done()
		g.gate.Wait()
	}
	return k, err
}

// TestVaultConcurrentReloadOnUnknownVersion: many requests of one vault meet DEKs wrapped under a
// version rotated in by another process, all at once. Only one of them finds the key file changed when
// it reloads; every one of them must still open its value.
func TestVaultConcurrentReloadOnUnknownVersion(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open opener) {
		path, krA := newKeyFile(t)
		gated := &gatedKeys{DataKeyStore: open(t)}
		vA := vault.NewVault(krA, gated, path)

		kr2 := loadKeyFile(t, path)
		if _, err := kr2.RotateFile(path); err != nil {
			t.Fatal(err)
		}
		vB := vault.NewVault(kr2, open(t), path)
		const n = 16
		vals := make([]value, n)
		for i := range vals {
			vals[i] = mustSeal(t, vB, polydev.NewID())
		}

		gated.gate.Add(n)
		gated.armed.Store(true)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = vals[i].open(t.Context(), vA) })
		}
		wg.Wait()
		gated.armed.Store(false)
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if krA.Active() != 2 {
			t.Fatalf("vault A active v%d, want 2", krA.Active())
		}
	})
}
