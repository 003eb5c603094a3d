package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm/netpool"
)

// LeaseStore keeps vm/netpool's address leases in the ip_leases table, scoped to one pool. Leases
// of other pools are invisible to it, but they still hold their address and VM id (both are unique
// across the table), so two pools sharing a database must not overlap.
type LeaseStore struct {
	db   *DB
	pool string
}

var (
	_ netpool.LeaseStore   = (*LeaseStore)(nil)
	_ polydev.IPLeaseStore = (*LeaseStore)(nil)
)

// Leases returns the lease store of the pool with subnet cidr (host bits are ignored).
func Leases(db *DB, cidr netip.Prefix) *LeaseStore {
	return &LeaseStore{db: db, pool: cidr.Masked().String()}
}

// Claim implements netpool.LeaseStore: insert, and if the insert hit either unique constraint,
// read the address's row to learn whether this VM already holds it. Never check-then-insert.
func (l *LeaseStore) Claim(ctx context.Context, ip netip.Addr, vmID string) (bool, error) {
	if !lookupable(vmID) {
		return false, fmt.Errorf("store: VM id %q cannot be stored", vmID)
	}
	_, err := l.db.exec(ctx, `INSERT INTO ip_leases (ip, vm_id, pool, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		ip.String(), vmID, l.pool, time.Now().UnixMilli())
	if err != nil {
		return false, err
	}
	var holder, pool string
	err = l.db.writeRow(ctx, `SELECT vm_id, pool FROM ip_leases WHERE ip = ?`, ip.String()).Scan(&holder, &pool)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // the insert lost on vm_id: this VM holds another address
	}
	if err != nil {
		return false, err
	}
	return holder == vmID && pool == l.pool, nil
}

// Release implements netpool.LeaseStore. It is not filtered by pool, so a lease left from an
// earlier subnet can still be released by its holder.
func (l *LeaseStore) Release(ctx context.Context, ip netip.Addr, vmID string) error {
	if !lookupable(vmID) {
		return nil
	}
	_, err := l.db.exec(ctx, `DELETE FROM ip_leases WHERE ip = ? AND vm_id = ?`, ip.String(), vmID)
	return err
}

// Leases implements netpool.LeaseStore.
func (l *LeaseStore) Leases(ctx context.Context) (map[netip.Addr]string, error) {
	rows, err := l.db.query(ctx, `SELECT ip, vm_id FROM ip_leases WHERE pool = ?`, l.pool)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[netip.Addr]string{}
	for rows.Next() {
		var ip, vm string
		if err := rows.Scan(&ip, &vm); err != nil {
			return nil, err
		}
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, fmt.Errorf("store: ip_leases holds %q: %w", ip, err)
		}
		out[a] = vm
	}
	return out, rows.Err()
}
