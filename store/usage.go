package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/polydev/polydev"
)

const usageColumns = `id, user_id, key_id, platform_key, provider, model, surface, stream, status, http_status, error_code,
	input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated, cost_micros,
	duration_ms, ttfb_ms, overhead_us, session_id, created_at, reservation_id`

// InsertUsage implements polydev.UsageStore.
func (db *DB) InsertUsage(ctx context.Context, recs []*polydev.UsageRecord) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		_, sums, err := db.insertUsage(ctx, tx, recs, nil)
		if err != nil {
			return err
		}
		return db.settle(ctx, tx, sums, nil)
	})
}

// insertUsage writes recs inside tx and sums what they add to their keys' counters, per key and
// month, for settle to write in one UPDATE each. A record's reservation is settled from the
// reservations table, unless inMemory says the single-node limiter holds it (then it is settled in
// memory by the caller once the transaction commits). written[i] reports whether recs[i] was stored
// now (false for a retry's duplicate, or an interrupted record whose request settled first).
func (db *DB) insertUsage(ctx context.Context, tx *sql.Tx, recs []*polydev.UsageRecord, inMemory func(reservationID string) bool) (written []bool, sums map[keyMonth]*keySum, err error) {
	written = make([]bool, len(recs))
	sums = map[keyMonth]*keySum{}
	for i, r := range recs {
		held, reserved := false, int64(0)
		if inMemory != nil && r.ReservationID != "" && inMemory(r.ReservationID) {
			held = true
		} else if held, reserved, err = db.takeReservation(ctx, tx, r.ReservationID); err != nil {
			return nil, nil, err
		} else if held {
			// A reservation row was deleted: give back what it held, whether or not the record
			// below turns out to be a duplicate.
			s := sumFor(sums, r.KeyID, polydev.MonthOf(r.CreatedAt))
			s.reserved += reserved
			s.freed++
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
			return nil, nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, nil, err
		}
		if n == 0 {
			continue // already recorded
		}
		written[i] = true
		if r.KeyID == "" {
			continue // no key to charge
		}
		s := sumFor(sums, r.KeyID, polydev.MonthOf(r.CreatedAt))
		s.requests++
		s.cost += int64(r.Cost)
		s.inputTokens += r.InputTokens
		s.outputTokens += r.OutputTokens
		s.lastUsed = max(s.lastUsed, ms(r.CreatedAt))
	}
	return written, sums, nil
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

// keyMonth and keySum gather what one batch adds to one key's counters for one month.
type keyMonth struct{ key, month string }

type keySum struct {
	keyMonth
	requests, cost, inputTokens, outputTokens, lastUsed int64
	reserved, freed                                     int64 // reservation rows settled: amount and slots given back
	counts                                              *pendingCounts
}

func sumFor(sums map[keyMonth]*keySum, key, month string) *keySum {
	km := keyMonth{key, month}
	s := sums[km]
	if s == nil {
		s = &keySum{keyMonth: km}
		sums[km] = s
	}
	return s
}

// settle adds a batch's sums to the keys' counters: the spend to the month's (a spend counter of a
// past month restarts at the batch's amount), the reserved amounts of settled reservation rows out of
// month_reserved, their concurrency slots freed. counts are request counts the single-node limiter
// took since its last batch (DB.Reserve counts them as it reserves); a key's are written in the same
// statement as its sums when it has any. Keys are updated in a fixed order (key, then month), so that
// concurrent batches (other replicas) lock rows in the same order.
func (db *DB) settle(ctx context.Context, tx *sql.Tx, sums map[keyMonth]*keySum, counts []pendingCounts) error {
	order := make([]*keySum, 0, len(sums)+len(counts))
	for _, s := range sums {
		order = append(order, s)
	}
	for i := range counts {
		// A key's counts ride on its sum of the latest month, or on an empty sum of their own.
		var last *keySum
		for _, s := range sums {
			if s.key == counts[i].id && (last == nil || s.month > last.month) {
				last = s
			}
		}
		if last == nil {
			last = &keySum{keyMonth: keyMonth{key: counts[i].id}}
			order = append(order, last)
		}
		last.counts = &counts[i]
	}
	slices.SortFunc(order, func(a, b *keySum) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.month, b.month))
	})
	for _, s := range order {
		if err := db.settleKey(ctx, tx, s); err != nil {
			return err
		}
	}
	return nil
}

const settleSet = `month_spend_micros = CASE WHEN ? = 0 THEN month_spend_micros WHEN usage_month = ? THEN month_spend_micros + ? ELSE ? END,
	usage_month = CASE WHEN ? = 0 THEN usage_month ELSE ? END,
	month_reserved_micros = month_reserved_micros - ?, in_flight = in_flight - ?,
	total_requests = total_requests + ?, input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,
	total_spend_micros = total_spend_micros + ?, last_used_at = COALESCE(?, last_used_at)`

// countsSet adds request counts; a counter of a past period restarts.
const countsSet = `day_requests = CASE WHEN usage_day = ? THEN day_requests + ? ELSE ? END, usage_day = ?,
	rpm_count = CASE WHEN rpm_window = ? THEN rpm_count + ? ELSE ? END, rpm_window = ?`

func (db *DB) settleKey(ctx context.Context, tx *sql.Tx, s *keySum) error {
	var args []any
	var set []string
	if s.month != "" {
		var lastUsed sql.NullInt64
		if s.requests > 0 {
			lastUsed = sql.NullInt64{Int64: s.lastUsed, Valid: true}
		}
		set = append(set, settleSet)
		args = append(args, s.requests, s.month, s.cost, s.cost, s.requests, s.month, s.reserved, s.freed,
			s.requests, s.inputTokens, s.outputTokens, s.cost, lastUsed)
	}
	if c := s.counts; c != nil {
		set = append(set, countsSet)
		args = append(args, c.day, c.dayN, c.dayN, c.day, c.window, c.rpm, c.rpm, c.window)
	}
	// The statement is one of three fixed texts (sums, counts, or both): never built from input.
	_, err := db.txExec(ctx, tx, `UPDATE provider_keys SET `+strings.Join(set, ", ")+` WHERE id = ?`, append(args, s.key)...)
	return err
}
