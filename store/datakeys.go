package store

import (
	"context"
	"time"

	"github.com/polydev/polydev"
)

// DataKey implements polydev.DataKeyStore.
func (db *DB) DataKey(ctx context.Context, owner string) (*polydev.DataKey, error) {
	if !lookupable(owner) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "data key not found")
	}
	var k polydev.DataKey
	var created, updated int64
	err := db.queryRow(ctx, `SELECT owner_id, version, wrapped, kek_version, created_at, updated_at FROM data_keys WHERE owner_id = ?`, owner).
		Scan(&k.OwnerID, &k.Version, &k.Wrapped, &k.KEKVersion, &created, &updated)
	if err != nil {
		return nil, notFound(err, "data key")
	}
	k.CreatedAt, k.UpdatedAt = fromMS(created), fromMS(updated)
	return &k, nil
}

// CreateDataKey implements polydev.DataKeyStore.
func (db *DB) CreateDataKey(ctx context.Context, k *polydev.DataKey) error {
	_, err := db.exec(ctx, `INSERT INTO data_keys (owner_id, version, wrapped, kek_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		k.OwnerID, k.Version, k.Wrapped, k.KEKVersion, ms(k.CreatedAt), ms(k.UpdatedAt))
	if db.dialect.IsUniqueViolation(err) {
		return polydev.Errorf(polydev.ECONFLICT, "data key exists")
	}
	return err
}

// DataKeysBefore implements polydev.DataKeyStore.
func (db *DB) DataKeysBefore(ctx context.Context, kekVersion int, after string, limit int) ([]*polydev.DataKey, error) {
	rows, err := db.query(ctx, `SELECT owner_id, version, wrapped, kek_version, created_at, updated_at FROM data_keys
		WHERE kek_version < ? AND owner_id > ? ORDER BY owner_id LIMIT ?`, kekVersion, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*polydev.DataKey
	for rows.Next() {
		var k polydev.DataKey
		var created, updated int64
		if err := rows.Scan(&k.OwnerID, &k.Version, &k.Wrapped, &k.KEKVersion, &created, &updated); err != nil {
			return nil, err
		}
		k.CreatedAt, k.UpdatedAt = fromMS(created), fromMS(updated)
		out = append(out, &k)
	}
	return out, rows.Err()
}

// SwapDataKey implements polydev.DataKeyStore.
func (db *DB) SwapDataKey(ctx context.Context, owner string, oldKEK int, wrapped []byte, newKEK int, at time.Time) (bool, error) {
	res, err := db.exec(ctx, `UPDATE data_keys SET wrapped = ?, kek_version = ?, updated_at = ? WHERE owner_id = ? AND kek_version = ?`,
		wrapped, newKEK, ms(at), owner, oldKEK)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CountDataKeysByKEK implements polydev.DataKeyStore.
func (db *DB) CountDataKeysByKEK(ctx context.Context) (map[int]int, error) {
	rows, err := db.query(ctx, `SELECT kek_version, COUNT(*) FROM data_keys GROUP BY kek_version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var v, n int
		if err := rows.Scan(&v, &n); err != nil {
			return nil, err
		}
		out[v] = n
	}
	return out, rows.Err()
}
