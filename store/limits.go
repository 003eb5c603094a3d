package store

import (
	"context"
	"database/sql"
	"math"
	"time"

	"github.com/polydev/polydev"
)

// Reserve implements polydev.LimitStore. One conditional UPDATE checks and takes every key limit at
// once, so concurrent requests (on any number of replicas sharing the database) can never both take
// the last unit: the engine serialises writes to the row.
func (db *DB) Reserve(ctx context.Context, r *polydev.Reservation, now time.Time) error {
	if err := checkAmount(r); err != nil {
		return err
	}
	month, day, minute := polydev.MonthOf(now), polydev.DayOf(now), polydev.MinuteOf(now)
	return db.inTx(ctx, func(tx *sql.Tx) error {
		// A refused reservation is explained by re-reading the row. Under READ COMMITTED
		// (PostgreSQL) other requests may have settled in between, so that no limit is exceeded
		// any more: then the reservation is simply tried again.
		for attempt := 0; ; attempt++ {
			taken, err := db.reserveOnce(ctx, tx, r, month, day, minute)
			if err != nil || taken {
				return err
			}
			le, err := db.whichKeyLimit(ctx, tx, r, now)
			if err != nil {
				return err
			}
			if le != nil {
				return limitError(le, now)
			}
			if attempt == 4 {
				return limitError(&polydev.LimitError{Limit: "concurrency", Scope: "key " + r.KeyID}, now)
			}
		}
	})
}

// reserveOnce tries the conditional update and, when it took the limits, records the reservation.
func (db *DB) reserveOnce(ctx context.Context, tx *sql.Tx, r *polydev.Reservation, month, day string, minute int64) (bool, error) {
	taken, err := db.takeKey(ctx, tx, r.KeyID, grant{money: int64(r.Amount), day: 1, rpm: 1, slots: 1}, month, day, minute)
	if err != nil || !taken {
		return false, err
	}
	_, err = db.txExec(ctx, tx, `INSERT INTO reservations (id, key_id, user_id, amount_micros, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`, r.ID, r.KeyID, r.UserID, int64(r.Amount), ms(r.CreatedAt), ms(r.ExpiresAt))
	return err == nil, err
}

// grant is what a reservation or a lease takes from a key's limits: money, requests of the day and
// of the minute, concurrency slots.
type grant struct{ money, day, rpm, slots int64 }

func (g grant) zero() bool { return g == grant{} }

// takeKey adds g to a key's counters in one conditional UPDATE that holds every limit: it takes
// nothing (false) when any of them would be exceeded. The engine serialises writes to the row, so
// two takers on any replicas can never both take the last unit.
func (db *DB) takeKey(ctx context.Context, tx *sql.Tx, keyID string, g grant, month, day string, minute int64) (bool, error) {
	res, err := db.txExec(ctx, tx, `UPDATE provider_keys SET
			month_spend_micros = CASE WHEN usage_month = ? THEN month_spend_micros ELSE 0 END, usage_month = ?,
			month_reserved_micros = month_reserved_micros + ?,
			day_requests = CASE WHEN usage_day = ? THEN day_requests + ? ELSE ? END, usage_day = ?,
			rpm_count = CASE WHEN rpm_window = ? THEN rpm_count + ? ELSE ? END, rpm_window = ?,
			in_flight = in_flight + ?
			WHERE id = ? AND active = TRUE
			AND (monthly_budget_micros IS NULL OR
				(CASE WHEN usage_month = ? AND month_spend_micros > 0 THEN month_spend_micros ELSE 0 END) + month_reserved_micros + ? <= monthly_budget_micros)
			AND (daily_limit IS NULL OR (CASE WHEN usage_day = ? THEN day_requests ELSE 0 END) + ? <= daily_limit)
			AND (rate_limit_rpm IS NULL OR (CASE WHEN rpm_window = ? THEN rpm_count ELSE 0 END) + ? <= rate_limit_rpm)
			AND (concurrency_limit IS NULL OR in_flight + ? <= concurrency_limit)
			AND month_reserved_micros <= ?`,
		month, month, g.money, day, g.day, g.day, day, minute, g.rpm, g.rpm, minute, g.slots, keyID,
		month, g.money, day, g.day, minute, g.rpm, g.slots, polydev.MaxCounter-g.money)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// keyState is a key's limits and counters as stored, read at a moment: counters of periods that
// have ended read as zero.
type keyState struct {
	name                                     string
	active                                   bool
	budget, daily, rpm, conc                 sql.NullInt64
	spend, reserved, dayReq, rpmCount, inFli int64
}

// readKeyState reads a key's limits and counters for now; ENOTFOUND when it is gone or inactive.
func (db *DB) readKeyState(ctx context.Context, tx *sql.Tx, keyID string, now time.Time) (*keyState, error) {
	var s keyState
	var month, day string
	var rpmWin int64
	err := db.txQueryRow(ctx, tx, `SELECT name, active, usage_month, month_spend_micros, month_reserved_micros, monthly_budget_micros,
		usage_day, day_requests, daily_limit, rpm_window, rpm_count, rate_limit_rpm, in_flight, concurrency_limit
		FROM provider_keys WHERE id = ?`, keyID).
		Scan(&s.name, &s.active, &month, &s.spend, &s.reserved, &s.budget, &day, &s.dayReq, &s.daily, &rpmWin, &s.rpmCount, &s.rpm, &s.inFli, &s.conc)
	if err != nil || !s.active {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "key not found or inactive")
	}
	if month != polydev.MonthOf(now) || s.spend < 0 {
		s.spend = 0 // a negative spend was left by versions before the overflow checks
	}
	if day != polydev.DayOf(now) {
		s.dayReq = 0
	}
	if rpmWin != polydev.MinuteOf(now) {
		s.rpmCount = 0
	}
	return &s, nil
}

// refusal names the limit that taking need would exceed now (the conditions of takeKey), nil when
// none would.
func (s *keyState) refusal(need grant, now time.Time) *polydev.LimitError {
	le := &polydev.LimitError{Scope: "key " + s.name}
	switch {
	case s.budget.Valid && s.spend+s.reserved+need.money > s.budget.Int64:
		le.Limit, le.ResetAt = "monthly_budget", polydev.NextMonth(now)
	case s.daily.Valid && s.dayReq+need.day > s.daily.Int64:
		le.Limit, le.ResetAt = "daily_limit", polydev.NextDay(now)
	case s.rpm.Valid && s.rpmCount+need.rpm > s.rpm.Int64:
		le.Limit, le.ResetAt = "rate_limit_rpm", polydev.NextMinute(now)
	case s.conc.Valid && s.inFli+need.slots > s.conc.Int64, s.reserved > polydev.MaxCounter-need.money:
		// The second: so much money is reserved in flight that the counter is at its ceiling; it
		// frees as requests finish, as a concurrency slot does.
		le.Limit = "concurrency"
	default:
		return nil
	}
	return le
}

// whichKeyLimit explains a refused reservation: the limit exceeded now, nil when none is (it was
// freed since), ENOTFOUND when the key is gone or inactive.
func (db *DB) whichKeyLimit(ctx context.Context, tx *sql.Tx, r *polydev.Reservation, now time.Time) (*polydev.LimitError, error) {
	s, err := db.readKeyState(ctx, tx, r.KeyID, now)
	if err != nil {
		return nil, err
	}
	return s.refusal(grant{money: int64(r.Amount), day: 1, rpm: 1, slots: 1}, now), nil
}

// checkAmount refuses a reservation amount outside [0, MaxMoney]: pricing.Cost never produces one,
// and counters are only overflow-free for amounts within it.
func checkAmount(r *polydev.Reservation) error {
	if r.Amount < 0 || r.Amount > polydev.MaxMoney {
		return polydev.Errorf(polydev.EINVALID, "reservation amount %d is out of range", r.Amount)
	}
	return nil
}

// limitError is the refusal a client gets for le, which now refused: the limit named in the
// message, the time until its reset in RetryAfter.
func limitError(le *polydev.LimitError, now time.Time) error {
	le.RetryAfter = le.RetryAfterAt(now)
	return &polydev.Error{Code: le.Code(), Message: le.Error(), Cause: le}
}

// Release implements polydev.LimitStore.
func (db *DB) Release(ctx context.Context, id string) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var keyID string
		var amount int64
		err := db.txQueryRow(ctx, tx, `DELETE FROM reservations WHERE id = ? RETURNING key_id, amount_micros`, id).Scan(&keyID, &amount)
		if err == sql.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = db.txExec(ctx, tx, `UPDATE provider_keys SET month_reserved_micros = month_reserved_micros - ?,
			in_flight = in_flight - 1 WHERE id = ?`, amount, keyID)
		return err
	})
}

// ExpiredReservations implements polydev.LimitStore.
func (db *DB) ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]*polydev.Reservation, error) {
	rows, err := db.query(ctx, `SELECT id, key_id, user_id, amount_micros, created_at, expires_at FROM reservations
		WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*polydev.Reservation
	for rows.Next() {
		var r polydev.Reservation
		var amount, created, expires int64
		if err := rows.Scan(&r.ID, &r.KeyID, &r.UserID, &amount, &created, &expires); err != nil {
			return nil, err
		}
		r.Amount, r.CreatedAt, r.ExpiresAt = polydev.Money(amount), fromMS(created), fromMS(expires)
		out = append(out, &r)
	}
	return out, rows.Err()
}

// CountUserRequest implements polydev.LimitStore: one upsert whose WHERE clause holds both tier
// limits, so concurrent requests cannot overshoot them.
func (db *DB) CountUserRequest(ctx context.Context, userID string, perDay, perMinute *int64, now time.Time) error {
	if perDay == nil && perMinute == nil {
		return nil // nothing to hold: no write on the request path
	}
	day, minute := polydev.DayOf(now), polydev.MinuteOf(now)
	if perDay != nil && *perDay <= 0 {
		return limitError(&polydev.LimitError{Limit: "tier_requests_per_day", Scope: "your tier", ResetAt: polydev.NextDay(now)}, now)
	}
	if perMinute != nil && *perMinute <= 0 {
		return limitError(&polydev.LimitError{Limit: "tier_requests_per_minute", Scope: "your tier", ResetAt: polydev.NextMinute(now)}, now)
	}
	dayMax, minMax := int64(math.MaxInt64), int64(math.MaxInt64)
	if perDay != nil {
		dayMax = *perDay
	}
	if perMinute != nil {
		minMax = *perMinute
	}
	res, err := db.exec(ctx, `INSERT INTO user_counters (user_id, usage_day, day_requests, rpm_window, rpm_count) VALUES (?, ?, 1, ?, 1)
		ON CONFLICT (user_id) DO UPDATE SET
		day_requests = CASE WHEN user_counters.usage_day = excluded.usage_day THEN user_counters.day_requests + 1 ELSE 1 END,
		usage_day = excluded.usage_day,
		rpm_count = CASE WHEN user_counters.rpm_window = excluded.rpm_window THEN user_counters.rpm_count + 1 ELSE 1 END,
		rpm_window = excluded.rpm_window
		WHERE (CASE WHEN user_counters.usage_day = excluded.usage_day THEN user_counters.day_requests ELSE 0 END) < ?
		AND (CASE WHEN user_counters.rpm_window = excluded.rpm_window THEN user_counters.rpm_count ELSE 0 END) < ?`,
		userID, day, minute, dayMax, minMax)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var dayReq int64
	var usageDay string
	if err := db.queryRow(ctx, `SELECT usage_day, day_requests FROM user_counters WHERE user_id = ?`, userID).Scan(&usageDay, &dayReq); err != nil {
		return err
	}
	if usageDay == day && perDay != nil && dayReq >= *perDay {
		return limitError(&polydev.LimitError{Limit: "tier_requests_per_day", Scope: "your tier", ResetAt: polydev.NextDay(now)}, now)
	}
	return limitError(&polydev.LimitError{Limit: "tier_requests_per_minute", Scope: "your tier", ResetAt: polydev.NextMinute(now)}, now)
}
