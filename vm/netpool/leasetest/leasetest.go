// Package leasetest is the one shared test suite for netpool.LeaseStore implementations: the
// in-memory store runs it today and the SQL stores must run it too, so that every engine honours the
// same contract (atomic claims, one address per VM, idempotent holder-only release). It owns no store
// of its own and must not be imported by non-test code.
package leasetest

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"sync"
	"testing"

	"github.com/polydev/polydev/vm/netpool"
)

// Run runs the suite. newStore must return an empty store that no other test uses.
func Run(t *testing.T, newStore func(t *testing.T) netpool.LeaseStore) {
	t.Helper()
	ip1, ip2 := netip.MustParseAddr("192.168.100.2"), netip.MustParseAddr("192.168.100.3")

	type step struct {
		op     string // "claim" or "release"
		ip     netip.Addr
		vm     string
		want   bool // claim result
		leases map[netip.Addr]string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"claim free", []step{
			{"claim", ip1, "a", true, map[netip.Addr]string{ip1: "a"}},
		}},
		{"claim is idempotent", []step{
			{"claim", ip1, "a", true, nil},
			{"claim", ip1, "a", true, map[netip.Addr]string{ip1: "a"}},
		}},
		{"claim held by another", []step{
			{"claim", ip1, "a", true, nil},
			{"claim", ip1, "b", false, map[netip.Addr]string{ip1: "a"}},
		}},
		{"one address per VM", []step{
			{"claim", ip1, "a", true, nil},
			{"claim", ip2, "a", false, map[netip.Addr]string{ip1: "a"}},
		}},
		{"release by holder", []step{
			{"claim", ip1, "a", true, nil},
			{"release", ip1, "a", false, map[netip.Addr]string{}},
			{"claim", ip1, "b", true, map[netip.Addr]string{ip1: "b"}},
		}},
		{"release by another is a no-op", []step{
			{"claim", ip1, "a", true, nil},
			{"release", ip1, "b", false, map[netip.Addr]string{ip1: "a"}},
		}},
		{"release is idempotent", []step{
			{"claim", ip1, "a", true, nil},
			{"release", ip1, "a", false, nil},
			{"release", ip1, "a", false, nil},
			{"release", ip2, "x", false, map[netip.Addr]string{}},
		}},
		{"two VMs two addresses", []step{
			{"claim", ip1, "a", true, nil},
			{"claim", ip2, "b", true, map[netip.Addr]string{ip1: "a", ip2: "b"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore(t)
			for i, st := range tt.steps {
				switch st.op {
				case "claim":
					got, err := s.Claim(ctx, st.ip, st.vm)
					if err != nil || got != st.want {
						t.Fatalf("step %d: Claim(%v, %s) = %v, %v; want %v", i, st.ip, st.vm, got, err, st.want)
					}
				case "release":
					if err := s.Release(ctx, st.ip, st.vm); err != nil {
						t.Fatalf("step %d: Release(%v, %s) = %v", i, st.ip, st.vm, err)
					}
				}
				if st.leases != nil {
					got, err := s.Leases(ctx)
					if err != nil || !maps.Equal(got, st.leases) {
						t.Fatalf("step %d: Leases() = %v, %v; want %v", i, got, err, st.leases)
					}
				}
			}
		})
	}

	t.Run("concurrent claims of one address", func(t *testing.T) {
		s := newStore(t)
		testConcurrentClaims(t, s, ip1)
	})
}

func testConcurrentClaims(t *testing.T, s netpool.LeaseStore, ip netip.Addr) {
	const n = 32
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
	)
	ctx := context.Background()
	for i := range n {
		wg.Go(func() {
			vm := fmt.Sprintf("vm-%d", i)
			won, err := s.Claim(ctx, ip, vm)
			if err != nil {
				t.Errorf("Claim: %v", err)
				return
			}
			if won {
				mu.Lock()
				winners = append(winners, vm)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d claims of %v won (%v), want exactly 1", len(winners), ip, winners)
	}
	leases, err := s.Leases(ctx)
	if err != nil || leases[ip] != winners[0] || len(leases) != 1 {
		t.Fatalf("Leases() = %v, %v; want only %v: %s", leases, err, ip, winners[0])
	}
}
