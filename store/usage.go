package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/polydev/polydev"
)

const usageColumns = `id, user_id, key_id, platform_key, provider, model, surface, stream, status, http_status, error_code,
	input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated, cost_micros,
	duration_ms, ttfb_ms, overhead_us, session_id, created_at, reservation_id`

// InsertUsage implements polydev.UsageStore.
func (db *DB) InsertUsage(ctx context.Context, recs []*polydev.UsageRecord) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range recs {
			held, reserved, err := db.takeReservation(ctx, tx, r.ReservationID)
			if err != nil {
				return err
			}
			if r.Status == polydev.UsageInterrupted && !held {
				continue // the request settled its own reservation after the sweeper listed it
			}
			res, err := db.txExec(ctx, tx, `INSERT INTO usage_records (`+usageColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
				r.ID, r.UserID, r.KeyID, r.PlatformKey, r.Provider, r.Model, r.Surface, r.Stream, r.Status, r.HTTPStatus, r.ErrorCode,
				r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.ReasoningTokens, r.Estimated, int64(r.Cost),
				r.DurationMS, r.TTFBMS, r.OverheadUS, r.SessionID, ms(r.CreatedAt), r.ReservationID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 || r.KeyID == "" {
				if err != nil {
					return err
				}
				continue // already recorded, or no key to charge
			}
			if err := db.settle(ctx, tx, r, held, reserved); err != nil {
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
			&r.ReasoningTokens, &r.Estimated, &cost, &r.DurationMS, &r.TTFBMS, &r.OverheadUS, &r.SessionID, &created, &r.ReservationID)
		if err != nil {
			return nil, err
		}
		r.Cost, r.CreatedAt = polydev.Money(cost), fromMS(created)
		out = append(out, &r)
	}
	return out, rows.Err()
}

// takeReservation deletes a reservation and returns its amount; held is false when there is none
// (no id, or already settled or released).
func (db *DB) takeReservation(ctx context.Context, tx *sql.Tx, id string) (held bool, amount int64, err error) {
	if id == "" {
		return false, 0, nil
	}
	err = db.txQueryRow(ctx, tx, `DELETE FROM reservations WHERE id = ? RETURNING amount_micros`, id).Scan(&amount)
	if errors.Is(err, sql.ErrNoRows) {
		return false, 0, nil
	}
	return err == nil, amount, err
}

// settle adds a record to its key's counters; when it settled a reservation that was still held, the
// reserved amount leaves month_reserved and the concurrency slot is freed. Requests were counted
// against the daily and per-minute limits when reserved.
func (db *DB) settle(ctx context.Context, tx *sql.Tx, r *polydev.UsageRecord, held bool, reserved int64) error {
	inFlight := 0
	if held {
		inFlight = 1
	}
	month := polydev.MonthOf(r.CreatedAt)
	// A spend counter of a past month restarts at this record's amount.
	_, err := db.txExec(ctx, tx, `UPDATE provider_keys SET
		month_spend_micros = CASE WHEN usage_month = ? THEN month_spend_micros + ? ELSE ? END, usage_month = ?,
		month_reserved_micros = month_reserved_micros - ?, in_flight = in_flight - ?,
		total_requests = total_requests + 1, input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,
		total_spend_micros = total_spend_micros + ?, last_used_at = ?
		WHERE id = ?`,
		month, int64(r.Cost), int64(r.Cost), month, reserved, inFlight, r.InputTokens, r.OutputTokens, int64(r.Cost), ms(r.CreatedAt), r.KeyID)
	return err
}
