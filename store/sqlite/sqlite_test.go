package sqlite_test

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/store/storetest"
	"github.com/polydev/polydev/vm/netpool"
	"github.com/polydev/polydev/vm/netpool/leasetest"
)

func TestStoreSuite(t *testing.T) {
	t.Logf("store suite engine=sqlite")
	storetest.Run(t, func(t *testing.T) polydev.Store {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "polydev.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestMigrateTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "polydev.db")
	for range 2 {
		db, err := sqlite.Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := db.SchemaVersion(t.Context())
		if err != nil || v < 1 {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
		db.Close()
	}
}

// TestLeaseStore holds the ip_leases table to vm/netpool's shared LeaseStore contract.
func TestLeaseStore(t *testing.T) {
	leasetest.Run(t, func(t *testing.T) netpool.LeaseStore {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "polydev.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return store.Leases(db, netip.MustParsePrefix(netpool.DefaultCIDR))
	})
}

// TestLeaseStorePools checks that a store sees only its own pool's leases while addresses and VM ids
// stay unique across pools, and that a holder can release a lease left from another pool.
func TestLeaseStorePools(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "polydev.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := store.Leases(db, netip.MustParsePrefix("192.168.100.0/24"))
	b := store.Leases(db, netip.MustParsePrefix("10.9.0.7/16"))
	ip := netip.MustParseAddr("192.168.100.2")
	if ok, err := a.Claim(t.Context(), ip, "vm-a"); !ok || err != nil {
		t.Fatalf("Claim in pool a = %v, %v", ok, err)
	}
	if ok, err := b.Claim(t.Context(), ip, "vm-b"); ok || err != nil {
		t.Fatalf("Claim of a's address through pool b = %v, %v; want false", ok, err)
	}
	if ok, err := b.Claim(t.Context(), ip, "vm-a"); ok || err != nil {
		t.Fatalf("Claim through pool b of a lease held in pool a = %v, %v; want false", ok, err)
	}
	if got, err := b.Leases(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("pool b sees %v, %v", got, err)
	}
	if err := b.Release(t.Context(), ip, "vm-a"); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Leases(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("after release pool a sees %v, %v", got, err)
	}
}
