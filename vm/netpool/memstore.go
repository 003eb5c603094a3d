package netpool

import (
	"context"
	"maps"
	"net/netip"
	"sync"
)

// MemStore is a LeaseStore in process memory, for tests and for single-node setups that accept losing
// leases on restart (the controller then reclaims everything anyway). The zero value is ready to use.
type MemStore struct {
	mu   sync.Mutex
	byIP map[netip.Addr]string
	byVM map[string]netip.Addr
}

// Claim implements LeaseStore.
func (m *MemStore) Claim(ctx context.Context, ip netip.Addr, vmID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byIP == nil {
		m.byIP, m.byVM = map[netip.Addr]string{}, map[string]netip.Addr{}
	}
	if holder, ok := m.byIP[ip]; ok {
		return holder == vmID, nil
	}
	if _, ok := m.byVM[vmID]; ok {
		return false, nil // one address per VM
	}
	m.byIP[ip], m.byVM[vmID] = vmID, ip
	return true, nil
}

// Release implements LeaseStore.
func (m *MemStore) Release(ctx context.Context, ip netip.Addr, vmID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if holder, ok := m.byIP[ip]; ok && holder == vmID {
		delete(m.byIP, ip)
		delete(m.byVM, vmID)
	}
	return nil
}

// Leases implements LeaseStore.
func (m *MemStore) Leases(ctx context.Context) (map[netip.Addr]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := maps.Clone(m.byIP)
	if out == nil {
		out = map[netip.Addr]string{}
	}
	return out, nil
}
