package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"time"

	"github.com/polydev/polydev"
)

const vmColumns = `id, user_id, type, state, ip, driver, vcpus, memory_mib, created_at, updated_at, started_at, stopped_at, last_activity_at`

func scanVM(s scanner) (*polydev.VM, error) {
	var v polydev.VM
	var ip sql.NullString
	var created, updated, active int64
	var started, stopped sql.NullInt64
	if err := s.Scan(&v.ID, &v.UserID, &v.Type, &v.State, &ip, &v.Driver, &v.VCPUs, &v.MemoryMiB,
		&created, &updated, &started, &stopped, &active); err != nil {
		return nil, err
	}
	if ip.Valid {
		a, err := netip.ParseAddr(ip.String)
		if err != nil {
			return nil, fmt.Errorf("vm %s: stored ip %q: %w", v.ID, ip.String, err)
		}
		v.IP = &a
	}
	v.CreatedAt, v.UpdatedAt, v.LastActivityAt = fromMS(created), fromMS(updated), fromMS(active)
	v.StartedAt, v.StoppedAt = fromNullMS(started), fromNullMS(stopped)
	return &v, nil
}

func ipText(ip *netip.Addr) sql.NullString {
	if ip == nil || !ip.IsValid() {
		return sql.NullString{}
	}
	return sql.NullString{String: ip.String(), Valid: true}
}

// CreateVM implements polydev.VMStore.
func (db *DB) CreateVM(ctx context.Context, v *polydev.VM) error {
	if !v.Type.Valid() || !v.State.Valid() {
		return polydev.Errorf(polydev.EINVALID, "VM type %q or state %q is not valid", v.Type, v.State)
	}
	_, err := db.exec(ctx, `INSERT INTO vms (`+vmColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.ID, v.UserID, v.Type, v.State, ipText(v.IP), v.Driver, v.VCPUs, v.MemoryMiB,
		ms(v.CreatedAt), ms(v.UpdatedAt), msPtr(v.StartedAt), msPtr(v.StoppedAt), ms(v.LastActivityAt))
	if db.dialect.IsUniqueViolation(err) {
		return polydev.Errorf(polydev.ECONFLICT, "a VM with this id already exists")
	}
	return err
}

// VMByID implements polydev.VMStore.
func (db *DB) VMByID(ctx context.Context, userID, id string) (*polydev.VM, error) {
	if !lookupable(userID, id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "VM not found")
	}
	v, err := scanVM(db.queryRow(ctx, `SELECT `+vmColumns+` FROM vms WHERE id = ? AND user_id = ?`, id, userID))
	return v, notFound(err, "VM")
}

// ListVMs implements polydev.VMStore.
func (db *DB) ListVMs(ctx context.Context, userID string) ([]*polydev.VM, error) {
	if !lookupable(userID) {
		return []*polydev.VM{}, nil
	}
	return db.listVMs(ctx, `SELECT `+vmColumns+` FROM vms WHERE user_id = ? ORDER BY created_at DESC, id`, userID)
}

// ListAllVMs implements polydev.VMStore.
func (db *DB) ListAllVMs(ctx context.Context) ([]*polydev.VM, error) {
	return db.listVMs(ctx, `SELECT `+vmColumns+` FROM vms ORDER BY created_at, id`)
}

func (db *DB) listVMs(ctx context.Context, query string, args ...any) ([]*polydev.VM, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.VM{}
	for rows.Next() {
		v, err := scanVM(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// SetVMState implements polydev.VMStore. The WHERE clause on the previous state makes the move a
// compare-and-set: of two controllers racing to start one VM, exactly one sees a row change.
func (db *DB) SetVMState(ctx context.Context, id string, from, to polydev.VMState, at time.Time) error {
	if !to.Valid() {
		return polydev.Errorf(polydev.EINVALID, "VM state %q is not valid", to)
	}
	if !lookupable(id) {
		return polydev.Errorf(polydev.ENOTFOUND, "VM not found")
	}
	var started, stopped sql.NullInt64
	switch to {
	case polydev.VMRunning:
		started = msPtr(&at)
	case polydev.VMStopped:
		stopped = msPtr(&at)
	}
	res, err := db.exec(ctx, `UPDATE vms SET state = ?, updated_at = ?, started_at = COALESCE(?, started_at),
		stopped_at = COALESCE(?, stopped_at) WHERE id = ? AND state = ?`, to, ms(at), started, stopped, id, from)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 1 {
		return err
	}
	var now polydev.VMState
	err = db.writeRow(ctx, `SELECT state FROM vms WHERE id = ?`, id).Scan(&now)
	if err != nil {
		return notFound(err, "VM")
	}
	return polydev.Errorf(polydev.ECONFLICT, "VM is %s, not %s", now, from)
}

// writeRow reads through the writer pool, so that it sees the writer's latest commit even where
// readers are a separate pool.
func (db *DB) writeRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.write.QueryRowContext(ctx, db.q(query), args...)
}

// SetVMIP implements polydev.VMStore.
func (db *DB) SetVMIP(ctx context.Context, id string, ip *netip.Addr, at time.Time) error {
	if !lookupable(id) {
		return polydev.Errorf(polydev.ENOTFOUND, "VM not found")
	}
	res, err := db.exec(ctx, `UPDATE vms SET ip = ?, updated_at = ? WHERE id = ?`, ipText(ip), ms(at), id)
	return affectedOne(res, err, "VM")
}

// TouchVM implements polydev.VMStore.
func (db *DB) TouchVM(ctx context.Context, id string, at time.Time) error {
	if !lookupable(id) {
		return polydev.Errorf(polydev.ENOTFOUND, "VM not found")
	}
	res, err := db.exec(ctx, `UPDATE vms SET last_activity_at = ? WHERE id = ?`, ms(at), id)
	return affectedOne(res, err, "VM")
}

// DeleteVM implements polydev.VMStore.
func (db *DB) DeleteVM(ctx context.Context, id string) error {
	if !lookupable(id) {
		return polydev.Errorf(polydev.ENOTFOUND, "VM not found")
	}
	res, err := db.exec(ctx, `DELETE FROM vms WHERE id = ?`, id)
	return affectedOne(res, err, "VM")
}

// CountVMs implements polydev.VMStore.
func (db *DB) CountVMs(ctx context.Context) (*polydev.VMCounts, error) {
	c := &polydev.VMCounts{ByState: map[polydev.VMState]int{}, ByType: map[polydev.VMType]int{}}
	for _, s := range polydev.VMStates {
		c.ByState[s] = 0
	}
	for _, t := range polydev.VMTypes {
		c.ByType[t] = 0
	}
	rows, err := db.query(ctx, `SELECT state, type, COUNT(*) FROM vms GROUP BY state, type`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s polydev.VMState
		var t polydev.VMType
		var n int
		if err := rows.Scan(&s, &t, &n); err != nil {
			return nil, err
		}
		c.ByState[s] += n
		c.ByType[t] += n
		c.Total += n
	}
	return c, rows.Err()
}
