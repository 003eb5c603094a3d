package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/polydev/polydev"
)

const usageColumns = `id, user_id, key_id, platform_key, provider, model, surface, stream, status, http_status, error_code,
	input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated, cost_micros,
	duration_ms, ttfb_ms, overhead_us, session_id, created_at`

// InsertUsage implements polydev.UsageStore.
func (db *DB) InsertUsage(ctx context.Context, recs []*polydev.UsageRecord) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range recs {
			res, err := tx.ExecContext(ctx, db.q(`INSERT INTO usage_records (`+usageColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
				r.ID, r.UserID, r.KeyID, r.PlatformKey, r.Provider, r.Model, r.Surface, r.Stream, r.Status, r.HTTPStatus, r.ErrorCode,
				r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.ReasoningTokens, r.Estimated, int64(r.Cost),
				r.DurationMS, r.TTFBMS, r.OverheadUS, r.SessionID, ms(r.CreatedAt))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 || r.KeyID == "" {
				if err != nil {
					return err
				}
				continue // already recorded, or no key to charge
			}
			month, day := polydev.MonthOf(r.CreatedAt), polydev.DayOf(r.CreatedAt)
			// A counter of a past period restarts at this record's amount.
			_, err = tx.ExecContext(ctx, db.q(`UPDATE provider_keys SET
				month_spend_micros = CASE WHEN usage_month = ? THEN month_spend_micros + ? ELSE ? END, usage_month = ?,
				day_requests = CASE WHEN usage_day = ? THEN day_requests + 1 ELSE 1 END, usage_day = ?,
				total_requests = total_requests + 1, input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,
				total_spend_micros = total_spend_micros + ?, last_used_at = ?
				WHERE id = ?`),
				month, int64(r.Cost), int64(r.Cost), month, day, day, r.InputTokens, r.OutputTokens, int64(r.Cost), ms(r.CreatedAt), r.KeyID)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// ListUsage implements polydev.UsageStore.
func (db *DB) ListUsage(ctx context.Context, userID string, before time.Time, limit int) ([]*polydev.UsageRecord, error) {
	if !lookupable(userID) {
		return []*polydev.UsageRecord{}, nil
	}
	if before.IsZero() {
		before = time.Now().Add(time.Hour)
	}
	rows, err := db.query(ctx, `SELECT `+usageColumns+` FROM usage_records WHERE user_id = ? AND created_at < ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, userID, ms(before), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.UsageRecord{}
	for rows.Next() {
		var r polydev.UsageRecord
		var cost, created int64
		err := rows.Scan(&r.ID, &r.UserID, &r.KeyID, &r.PlatformKey, &r.Provider, &r.Model, &r.Surface, &r.Stream, &r.Status,
			&r.HTTPStatus, &r.ErrorCode, &r.InputTokens, &r.OutputTokens, &r.CacheReadTokens, &r.CacheWriteTokens,
			&r.ReasoningTokens, &r.Estimated, &cost, &r.DurationMS, &r.TTFBMS, &r.OverheadUS, &r.SessionID, &created)
		if err != nil {
			return nil, err
		}
		r.Cost, r.CreatedAt = polydev.Money(cost), fromMS(created)
		out = append(out, &r)
	}
	return out, rows.Err()
}
