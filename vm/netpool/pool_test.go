package netpool_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/polydev/polydev/vm/netpool"
)

func newPool(t *testing.T, cidr string, store netpool.LeaseStore) *netpool.Pool {
	t.Helper()
	p, err := netpool.New(netpool.Config{CIDR: cidr, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustAllocate(t *testing.T, p *netpool.Pool, vmID string) netpool.Slot {
	t.Helper()
	s, err := p.Allocate(t.Context(), vmID)
	if err != nil {
		t.Fatalf("Allocate(%s): %v", vmID, err)
	}
	return s
}

func TestAllocateLowestFreeAndIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := newPool(t, "", new(netpool.MemStore))
	a, b, c := mustAllocate(t, p, "a"), mustAllocate(t, p, "b"), mustAllocate(t, p, "c")
	if got := []int{a.Index, b.Index, c.Index}; !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("indexes = %v, want [0 1 2]", got)
	}
	if again := mustAllocate(t, p, "b"); again.IP != b.IP {
		t.Fatalf("second Allocate(b) = %v, want the lease it holds, %v", again.IP, b.IP)
	}
	if err := p.Release(ctx, b.IP, "b"); err != nil {
		t.Fatal(err)
	}
	if d := mustAllocate(t, p, "d"); d.Index != 1 {
		t.Fatalf("after releasing slot 1, Allocate(d) = slot %d, want 1 (lowest free)", d.Index)
	}
	if _, err := p.Allocate(ctx, ""); err == nil {
		t.Fatal("Allocate with an empty VM id succeeded")
	}
}

func TestAllocateExhaustion(t *testing.T) {
	t.Parallel()
	p := newPool(t, "10.9.8.0/29", new(netpool.MemStore)) // 8 addresses, 5 slots
	for i := range p.Size() {
		mustAllocate(t, p, fmt.Sprintf("vm-%d", i))
	}
	_, err := p.Allocate(t.Context(), "one-too-many")
	if !errors.Is(err, netpool.ErrExhausted) {
		t.Fatalf("Allocate on a full pool = %v, want ErrExhausted", err)
	}
	var ex *netpool.ExhaustedError
	if !errors.As(err, &ex) || ex.Size != 5 || ex.Leased != 5 || ex.CIDR.String() != "10.9.8.0/29" {
		t.Fatalf("error = %#v, want CIDR 10.9.8.0/29, size 5, leased 5", ex)
	}
	for _, want := range []string{"10.9.8.0/29", "5 usable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestConcurrentAllocateNeverDuplicates(t *testing.T) {
	t.Parallel()
	store := new(netpool.MemStore)
	p := newPool(t, "10.1.2.0/27", store) // 29 slots for 64 allocators
	const n = 64
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		byIP      = map[netip.Addr]string{}
		exhausted int
	)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("vm-%02d", i)
			s, err := p.Allocate(context.Background(), id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, netpool.ErrExhausted):
				exhausted++
			case err != nil:
				t.Errorf("Allocate(%s): %v", id, err)
			default:
				if other, dup := byIP[s.IP]; dup {
					t.Errorf("%v handed to both %s and %s", s.IP, other, id)
				}
				byIP[s.IP] = id
			}
		})
	}
	wg.Wait()
	if len(byIP) != p.Size() || exhausted != n-p.Size() {
		t.Fatalf("%d allocated, %d exhausted; want %d and %d", len(byIP), exhausted, p.Size(), n-p.Size())
	}
	leases, err := store.Leases(t.Context())
	if err != nil || !maps.Equal(leases, byIP) {
		t.Fatalf("store leases %v (%v) differ from what Allocate returned %v", leases, err, byIP)
	}
}

func TestReleaseOnFailurePathRestoresPool(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := new(netpool.MemStore)
	p := newPool(t, "", store)
	mustAllocate(t, p, "existing")
	before, _ := store.Leases(ctx)
	statsBefore, _ := p.Stats(ctx)

	createVM := func(netpool.Slot) error { return errors.New("tap creation failed") }
	s := mustAllocate(t, p, "doomed")
	if err := createVM(s); err != nil {
		if err := p.Release(ctx, s.IP, "doomed"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Release(ctx, s.IP, "doomed"); err != nil { // a second cleanup path: still fine
		t.Fatalf("second Release: %v", err)
	}
	after, _ := store.Leases(ctx)
	statsAfter, _ := p.Stats(ctx)
	if !maps.Equal(before, after) || statsBefore != statsAfter {
		t.Fatalf("pool after failed create = %v %+v, want %v %+v", after, statsAfter, before, statsBefore)
	}
}

func TestReleaseOnlyByHolder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := newPool(t, "", new(netpool.MemStore))
	s := mustAllocate(t, p, "owner")
	if err := p.Release(ctx, s.IP, "intruder"); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := p.Find(ctx, "owner"); err != nil || !ok || got.IP != s.IP {
		t.Fatalf("Find(owner) = %v, %v, %v after a foreign Release; the lease must survive", got.IP, ok, err)
	}
}

func TestRestartSeesExistingLeases(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := new(netpool.MemStore)
	first := newPool(t, "", store)
	held := map[string]netpool.Slot{}
	for _, id := range []string{"a", "b", "c"} {
		held[id] = mustAllocate(t, first, id)
	}

	restarted := newPool(t, "", store)
	for id, want := range held {
		got, ok, err := restarted.Find(ctx, id)
		if err != nil || !ok || got.IP != want.IP {
			t.Errorf("restarted Find(%s) = %v, %v, %v; want %v", id, got.IP, ok, err, want.IP)
		}
	}
	if d := mustAllocate(t, restarted, "d"); d.Index != 3 {
		t.Errorf("restarted Allocate(d) = slot %d, want 3", d.Index)
	}
	st, err := restarted.Stats(ctx)
	if err != nil || st.Total != 253 || st.Leased != 4 || st.Available != 249 {
		t.Errorf("Stats() = %+v, %v; want 253 total, 4 leased, 249 available", st, err)
	}
}

func TestReclaimReleasesDeadVMs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store := new(netpool.MemStore)
	p := newPool(t, "", store)
	a, b, c := mustAllocate(t, p, "a"), mustAllocate(t, p, "b"), mustAllocate(t, p, "c")
	stale := netip.MustParseAddr("10.0.0.9") // a lease from an earlier CIDR
	if _, err := store.Claim(ctx, stale, "old"); err != nil {
		t.Fatal(err)
	}

	released, err := p.Reclaim(ctx, map[string]bool{"b": true})
	if err != nil {
		t.Fatal(err)
	}
	want := []netpool.Lease{{IP: stale, VMID: "old"}, {IP: a.IP, VMID: "a"}, {IP: c.IP, VMID: "c"}}
	if !slices.Equal(released, want) {
		t.Fatalf("Reclaim released %v, want %v", released, want)
	}
	leases, _ := store.Leases(ctx)
	if !maps.Equal(leases, map[netip.Addr]string{b.IP: "b"}) {
		t.Fatalf("leases after reclaim = %v, want only b", leases)
	}
	if again, err := p.Reclaim(ctx, map[string]bool{"b": true}); err != nil || len(again) != 0 {
		t.Fatalf("second Reclaim = %v, %v; want nothing", again, err)
	}
}

// racingStore loses the first n claims, as if another replica took each address between our read
// of the leases and our claim.
type racingStore struct {
	netpool.MemStore
	mu   sync.Mutex
	lose int
}

func (r *racingStore) Claim(ctx context.Context, ip netip.Addr, vmID string) (bool, error) {
	r.mu.Lock()
	lose := r.lose > 0
	if lose {
		r.lose--
	}
	r.mu.Unlock()
	if lose {
		if _, err := r.MemStore.Claim(ctx, ip, "other-replica-"+ip.String()); err != nil {
			return false, err
		}
		return false, nil
	}
	return r.MemStore.Claim(ctx, ip, vmID)
}

type failingStore struct{ netpool.MemStore }

func (*failingStore) Leases(context.Context) (map[netip.Addr]string, error) {
	return nil, errors.New("database is down")
}

func TestAllocateRetriesLostClaimsAndReportsStoreErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	racing := &racingStore{lose: 2}
	s := mustAllocate(t, newPool(t, "", racing), "mine")
	if s.Index != 2 {
		t.Errorf("after losing slots 0 and 1, got slot %d, want 2", s.Index)
	}

	_, err := newPool(t, "", &failingStore{}).Allocate(ctx, "x")
	if err == nil || errors.Is(err, netpool.ErrExhausted) || !strings.Contains(err.Error(), "database is down") {
		t.Errorf("Allocate over a failing store = %v, want the store error", err)
	}

	store := new(netpool.MemStore)
	if _, err := store.Claim(ctx, netip.MustParseAddr("10.0.0.9"), "moved"); err != nil {
		t.Fatal(err)
	}
	_, err = newPool(t, "", store).Allocate(ctx, "moved")
	if err == nil || !strings.Contains(err.Error(), "release it first") {
		t.Errorf("Allocate for a VM holding an address outside the pool = %v, want a clear error", err)
	}
}
