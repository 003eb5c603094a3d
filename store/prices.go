package store

import (
	"context"
	"database/sql"

	"github.com/polydev/polydev"
)

// ListPriceOverrides implements polydev.PriceStore.
func (db *DB) ListPriceOverrides(ctx context.Context) ([]*polydev.ModelPrice, error) {
	rows, err := db.query(ctx, `SELECT model, input_per_mtok_micros, output_per_mtok_micros, cached_input_per_mtok_micros,
		cache_write_per_mtok_micros, updated_at FROM model_prices ORDER BY model`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.ModelPrice{}
	for rows.Next() {
		var p polydev.ModelPrice
		var updated int64
		if err := rows.Scan(&p.Model, &p.InputPerMTok, &p.OutputPerMTok, &p.CachedInputPerMTok, &p.CacheWritePerMTok, &updated); err != nil {
			return nil, err
		}
		p.UpdatedAt = fromMS(updated)
		out = append(out, &p)
	}
	return out, rows.Err()
}

// PutPriceOverrides implements polydev.PriceStore.
func (db *DB) PutPriceOverrides(ctx context.Context, rows []*polydev.ModelPrice) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, p := range rows {
			_, err := db.txExec(ctx, tx, `INSERT INTO model_prices (model, input_per_mtok_micros, output_per_mtok_micros,
				cached_input_per_mtok_micros, cache_write_per_mtok_micros, updated_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (model) DO UPDATE SET input_per_mtok_micros = excluded.input_per_mtok_micros,
				output_per_mtok_micros = excluded.output_per_mtok_micros,
				cached_input_per_mtok_micros = excluded.cached_input_per_mtok_micros,
				cache_write_per_mtok_micros = excluded.cache_write_per_mtok_micros, updated_at = excluded.updated_at`,
				p.Model, int64(p.InputPerMTok), int64(p.OutputPerMTok), int64(p.CachedInputPerMTok), int64(p.CacheWritePerMTok), ms(p.UpdatedAt))
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// DeletePriceOverrides implements polydev.PriceStore.
func (db *DB) DeletePriceOverrides(ctx context.Context, models []string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, m := range models {
			if !lookupable(m) {
				continue
			}
			if _, err := db.txExec(ctx, tx, `DELETE FROM model_prices WHERE model = ?`, m); err != nil {
				return err
			}
		}
		return nil
	})
}
