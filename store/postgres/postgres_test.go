package postgres_test

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/pgtest"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/store/postgres"
	"github.com/polydev/polydev/store/storetest"
	"github.com/polydev/polydev/vm/netpool"
	"github.com/polydev/polydev/vm/netpool/leasetest"
)

func TestStoreSuite(t *testing.T) {
	t.Logf("store suite engine=postgres")
	storetest.Run(t, func(t *testing.T) polydev.Store {
		db, err := postgres.Open(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

// TestReplicaStoreSuite holds the replica limiter (capacity leased from the database) to the suite.
func TestReplicaStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) polydev.Store {
		db, err := postgres.Open(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return store.NewReplica(db, "suite")
	})
}

// TestConcurrentMigrate starts several "replicas" on one empty database at once: the advisory lock
// must make each migration apply exactly once.
func TestConcurrentMigrate(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			db, err := postgres.Open(t.Context(), url)
			if err == nil {
				db.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestLeaseStore holds the ip_leases table to vm/netpool's shared LeaseStore contract.
func TestLeaseStore(t *testing.T) {
	leasetest.Run(t, func(t *testing.T) netpool.LeaseStore {
		db, err := postgres.Open(t.Context(), pgtest.URL(t))
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
	db, err := postgres.Open(t.Context(), pgtest.URL(t))
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
