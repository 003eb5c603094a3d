package netpool

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// DefaultCIDR is the seed's VM subnet.
const DefaultCIDR = "192.168.100.0/24"

// maxRounds bounds how often Allocate re-reads the leases after losing every claim it tried. Each
// lost claim means another allocator won that address, so rounds only repeat under heavy churn.
const maxRounds = 8

// Config configures a Pool.
type Config struct {
	CIDR  string     // IPv4 subnet, /16../30; DefaultCIDR when empty. Host bits are ignored.
	Store LeaseStore // required
}

// Pool allocates slots of one subnet. It holds no lease state of its own, so any number of Pools
// (goroutines, replicas, a restarted process) may share one LeaseStore.
type Pool struct {
	layout
	store LeaseStore
}

// New returns a Pool over cfg.Store.
func New(cfg Config) (*Pool, error) {
	if cfg.Store == nil {
		return nil, errors.New("netpool: a LeaseStore is required")
	}
	l, err := newLayout(cmp.Or(cfg.CIDR, DefaultCIDR))
	if err != nil {
		return nil, err
	}
	return &Pool{layout: l, store: cfg.Store}, nil
}

// CIDR is the pool's subnet.
func (p *Pool) CIDR() netip.Prefix { return p.subnet }

// Size is the number of usable slots.
func (p *Pool) Size() int { return p.size }

// Slot returns slot i, leased or not.
func (p *Pool) Slot(i int) (Slot, error) { return p.slot(i) }

// SlotOf returns the slot whose guest address is ip.
func (p *Pool) SlotOf(ip netip.Addr) (Slot, error) {
	i, ok := p.index(ip)
	if !ok {
		return Slot{}, fmt.Errorf("netpool: %v is not a slot address of %v", ip, p.subnet)
	}
	return p.slot(i)
}

// Allocate leases the lowest free slot to vmID and returns it. If vmID already holds a slot of this
// pool, that slot is returned (so a controller retrying after a crash gets the same address). Lost
// claims are retried on the next free address; when none is left the error is an *ExhaustedError.
//
// The lease is the record STYLE rule 7 asks for: take it before creating the slot's namespace and
// TAP device, and Release it on every failure path after.
func (p *Pool) Allocate(ctx context.Context, vmID string) (Slot, error) {
	if vmID == "" {
		return Slot{}, errors.New("netpool: empty VM id")
	}
	leased := 0
	for range maxRounds {
		leases, err := p.store.Leases(ctx)
		if err != nil {
			return Slot{}, fmt.Errorf("netpool: read leases: %w", err)
		}
		if s, held, err := p.heldBy(leases, vmID); held {
			return s, err
		}
		leased = p.countIn(leases)
		tried := 0
		for i := range p.size {
			s, _ := p.slot(i)
			if _, taken := leases[s.IP]; taken {
				continue
			}
			tried++
			won, err := p.store.Claim(ctx, s.IP, vmID)
			if err != nil {
				return Slot{}, fmt.Errorf("netpool: claim %v: %w", s.IP, err)
			}
			if won {
				return s, nil
			}
		}
		if tried == 0 {
			break
		}
	}
	return Slot{}, &ExhaustedError{CIDR: p.subnet, Size: p.size, Leased: leased}
}

// Release ends vmID's lease on ip. It is idempotent and only releases a lease that vmID holds, so it
// is safe on every failure path and in reclaim loops. Addresses outside the subnet are passed to the
// store all the same, so leases left over from a previous CIDR can still be released.
func (p *Pool) Release(ctx context.Context, ip netip.Addr, vmID string) error {
	if vmID == "" {
		return errors.New("netpool: empty VM id")
	}
	if err := p.store.Release(ctx, ip, vmID); err != nil {
		return fmt.Errorf("netpool: release %v: %w", ip, err)
	}
	return nil
}

// Find returns the slot vmID holds, if any.
func (p *Pool) Find(ctx context.Context, vmID string) (Slot, bool, error) {
	leases, err := p.store.Leases(ctx)
	if err != nil {
		return Slot{}, false, fmt.Errorf("netpool: read leases: %w", err)
	}
	return p.heldBy(leases, vmID)
}

// Stats counts the pool's slots.
type Stats struct {
	CIDR      netip.Prefix
	Total     int
	Leased    int
	Available int
}

// Stats reports how many slots are leased and available. Leases outside the subnet are not counted.
func (p *Pool) Stats(ctx context.Context) (Stats, error) {
	leases, err := p.store.Leases(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("netpool: read leases: %w", err)
	}
	n := p.countIn(leases)
	return Stats{CIDR: p.subnet, Total: p.size, Leased: n, Available: p.size - n}, nil
}

// Reclaim releases every lease held by a VM id not in live and returns them, sorted by address. It
// includes leases outside the current subnet. Call it at start-up, before new VMs are created, or
// under the controller's creation lock: a VM whose lease is taken after live was computed would
// otherwise lose it.
func (p *Pool) Reclaim(ctx context.Context, live map[string]bool) ([]Lease, error) {
	leases, err := p.store.Leases(ctx)
	if err != nil {
		return nil, fmt.Errorf("netpool: read leases: %w", err)
	}
	var dead []Lease
	for ip, id := range leases {
		if !live[id] {
			dead = append(dead, Lease{IP: ip, VMID: id})
		}
	}
	slices.SortFunc(dead, func(a, b Lease) int { return a.IP.Compare(b.IP) })
	for i, l := range dead {
		if err := p.Release(ctx, l.IP, l.VMID); err != nil {
			return dead[:i], err
		}
	}
	return dead, nil
}

// heldBy finds vmID's lease. A lease outside the subnet (left from an earlier CIDR) is reported as
// held with an error: the store allows one address per VM, so no new claim could succeed.
func (p *Pool) heldBy(leases map[netip.Addr]string, vmID string) (Slot, bool, error) {
	for ip, id := range leases {
		if id != vmID {
			continue
		}
		i, ok := p.index(ip)
		if !ok {
			return Slot{}, true, fmt.Errorf("netpool: VM %s holds %v, which is not a slot of %v; release it first", vmID, ip, p.subnet)
		}
		s, err := p.slot(i)
		return s, true, err
	}
	return Slot{}, false, nil
}

func (p *Pool) countIn(leases map[netip.Addr]string) int {
	n := 0
	for ip := range leases {
		if _, ok := p.index(ip); ok {
			n++
		}
	}
	return n
}
