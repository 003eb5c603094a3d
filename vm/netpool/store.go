package netpool

import (
	"context"
	"net/netip"
)

// LeaseStore persists which VM holds which address. One store is scoped to one pool (one host's
// subnet): an SQL implementation keeps a pool or node column and filters on it.
//
// The contract, which the shared suite in vm/netpool/leasetest checks for every implementation:
//
//   - Claim atomically records that ip is leased to vmID. It returns true when the lease now exists
//     for vmID (created by this call, or already there: Claim is idempotent), and false when ip is
//     held by another VM or vmID already holds another address. Atomicity must hold across
//     processes, not just goroutines: in SQL, a table with UNIQUE(ip) and UNIQUE(vm_id) and
//     `INSERT ... ON CONFLICT DO NOTHING`, then reading the row for ip to compare its vm_id. Never
//     check-then-insert.
//   - Release deletes the lease on ip only if vmID holds it (`DELETE ... WHERE ip = ? AND vm_id = ?`).
//     Releasing a lease that does not exist or belongs to another VM is not an error and changes
//     nothing.
//   - Leases returns every lease of the pool, address → VM id, as committed at the time of the call.
//
// All three return an error only when the store itself fails; a lost Claim is (false, nil).
type LeaseStore interface {
	Claim(ctx context.Context, ip netip.Addr, vmID string) (bool, error)
	Release(ctx context.Context, ip netip.Addr, vmID string) error
	Leases(ctx context.Context) (map[netip.Addr]string, error)
}

// Lease is one address held by one VM.
type Lease struct {
	IP   netip.Addr
	VMID string
}
