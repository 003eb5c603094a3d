package store

import (
	"context"
	"database/sql"

	"github.com/polydev/polydev"
)

// Price rows' layers (model_prices.source).
const (
	priceOverride = "override"
	priceImport   = "import"
)

// ListPriceOverrides implements polydev.PriceStore.
func (db *DB) ListPriceOverrides(ctx context.Context) ([]*polydev.ModelPrice, error) {
	rows, err := db.query(ctx, `SELECT model, input_per_mtok_micros, output_per_mtok_micros, cached_input_per_mtok_micros,
		cache_write_per_mtok_micros, max_output_tokens, context_window, source, updated_at FROM model_prices ORDER BY model`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.ModelPrice{}
	for rows.Next() {
		var p polydev.ModelPrice
		var updated int64
		var source string
		if err := rows.Scan(&p.Model, &p.InputPerMTok, &p.OutputPerMTok, &p.CachedInputPerMTok, &p.CacheWritePerMTok,
			&p.MaxOutputTokens, &p.ContextWindow, &source, &updated); err != nil {
			return nil, err
		}
		p.UpdatedAt, p.Imported = fromMS(updated), source == priceImport
		out = append(out, &p)
	}
	return out, rows.Err()
}

// priceUpsert writes one row of either layer. The WHERE of the conflict clause is where the layers
// meet: an override replaces any row, an import only another import.
const priceUpsert = `INSERT INTO model_prices (model, input_per_mtok_micros, output_per_mtok_micros,
	cached_input_per_mtok_micros, cache_write_per_mtok_micros, max_output_tokens, context_window, source, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (model) DO UPDATE SET input_per_mtok_micros = excluded.input_per_mtok_micros,
	output_per_mtok_micros = excluded.output_per_mtok_micros,
	cached_input_per_mtok_micros = excluded.cached_input_per_mtok_micros,
	cache_write_per_mtok_micros = excluded.cache_write_per_mtok_micros,
	max_output_tokens = excluded.max_output_tokens, context_window = excluded.context_window,
	source = excluded.source, updated_at = excluded.updated_at
	WHERE excluded.source = 'override' OR model_prices.source = 'import'`

// PutPriceOverrides implements polydev.PriceStore.
func (db *DB) PutPriceOverrides(ctx context.Context, rows []*polydev.ModelPrice) error {
	_, err := db.putPrices(ctx, rows, priceOverride)
	return err
}

// ImportPrices implements polydev.PriceStore.
func (db *DB) ImportPrices(ctx context.Context, rows []*polydev.ModelPrice) (int, error) {
	return db.putPrices(ctx, rows, priceImport)
}

func (db *DB) putPrices(ctx context.Context, rows []*polydev.ModelPrice, source string) (int, error) {
	written := 0
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		written = 0
		for _, p := range rows {
			res, err := db.txExec(ctx, tx, priceUpsert, p.Model, int64(p.InputPerMTok), int64(p.OutputPerMTok), int64(p.CachedInputPerMTok),
				int64(p.CacheWritePerMTok), p.MaxOutputTokens, p.ContextWindow, source, ms(p.UpdatedAt))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			written += int(n)
		}
		return nil
	})
	return written, err
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
