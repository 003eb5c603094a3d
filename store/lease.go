package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/polydev/polydev"
)

// LeaseExpiry is how long a lease row lives without being renewed: its replica renews it every
// minute while running, so a row this old belongs to a replica that stopped (or lost the database),
// and any replica gives its capacity back (ReclaimLeases).
const LeaseExpiry = 10 * time.Minute

// share is what a lease takes of one limit: want when half the room left allows it, else half the
// room, never less than need (grantKey has checked that need fits). Halving leaves room for the
// other replicas near a limit, so that one replica's unused lease cannot hold all of it.
func share(need, want int64, limit sql.NullInt64, used int64) int64 {
	if need <= 0 {
		return 0
	}
	if !limit.Valid {
		return max(need, want)
	}
	return max(need, min(want, (limit.Int64-used)/2))
}

// grantKey leases capacity of a key to replica: at least need in each limit, up to want (see
// share), taken with the conditional UPDATE every reservation uses and recorded, money and slots, in
// the replica's lease row, in one transaction. It returns the refusal when need does not fit.
func (db *DB) grantKey(ctx context.Context, replica, keyID string, need, want grant, now time.Time) (grant, error) {
	month, day, minute := polydev.MonthOf(now), polydev.DayOf(now), polydev.MinuteOf(now)
	var got grant
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		// Under READ COMMITTED another replica may take between the read and the update; the
		// update's conditions then refuse, and the next round reads again.
		for attempt := 0; ; attempt++ {
			s, err := db.readKeyState(ctx, tx, keyID, now)
			if err != nil {
				return err
			}
			if le := s.refusal(need, now); le != nil {
				return limitError(le, now)
			}
			g := grant{
				money: min(share(need.money, want.money, s.budget, s.spend+s.reserved), polydev.MaxCounter-s.reserved),
				day:   share(need.day, want.day, s.daily, s.dayReq),
				rpm:   share(need.rpm, want.rpm, s.rpm, s.rpmCount),
				slots: share(need.slots, want.slots, s.conc, s.inFli),
			}
			taken, err := db.takeKey(ctx, tx, keyID, g, month, day, minute)
			if err != nil {
				return err
			}
			if !taken {
				if attempt == 4 {
					return limitError(&polydev.LimitError{Limit: "concurrency", Scope: "key " + s.name}, now)
				}
				continue
			}
			if g.money > 0 || g.slots > 0 {
				_, err = db.txExec(ctx, tx, `INSERT INTO limit_leases (replica_id, key_id, money_micros, slots, expires_at) VALUES (?, ?, ?, ?, ?)
					ON CONFLICT (replica_id, key_id) DO UPDATE SET money_micros = limit_leases.money_micros + excluded.money_micros,
					slots = limit_leases.slots + excluded.slots, expires_at = excluded.expires_at`,
					replica, keyID, g.money, g.slots, ms(now.Add(LeaseExpiry)))
				if err != nil {
					return err
				}
			}
			got = g
			return nil
		}
	})
	return got, err
}

// returnKey gives back what a replica leased and did not use: money and slots (and its lease row
// with them), and requests of day and of window while those periods are still current.
func (db *DB) returnKey(ctx context.Context, replica, keyID string, g grant, day string, window int64) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := db.txExec(ctx, tx, `UPDATE provider_keys SET month_reserved_micros = month_reserved_micros - ?, in_flight = in_flight - ?,
			day_requests = CASE WHEN usage_day = ? THEN day_requests - ? ELSE day_requests END,
			rpm_count = CASE WHEN rpm_window = ? THEN rpm_count - ? ELSE rpm_count END WHERE id = ?`,
			g.money, g.slots, day, g.day, window, g.rpm, keyID)
		if err != nil || g.money == 0 && g.slots == 0 {
			return err
		}
		return db.shrinkLease(ctx, tx, replica, keyID, g.money, g.slots)
	})
}

// shrinkLease takes money and slots off a lease row, deleting it once it holds nothing.
func (db *DB) shrinkLease(ctx context.Context, tx *sql.Tx, replica, keyID string, money, slots int64) error {
	if _, err := db.txExec(ctx, tx, `UPDATE limit_leases SET money_micros = money_micros - ?, slots = slots - ? WHERE replica_id = ? AND key_id = ?`,
		money, slots, replica, keyID); err != nil {
		return err
	}
	_, err := db.txExec(ctx, tx, `DELETE FROM limit_leases WHERE replica_id = ? AND key_id = ? AND money_micros <= 0 AND slots <= 0`, replica, keyID)
	return err
}

// renewLeases pushes the expiry of a replica's lease rows forward.
func (db *DB) renewLeases(ctx context.Context, replica string, now time.Time) error {
	_, err := db.exec(ctx, `UPDATE limit_leases SET expires_at = ? WHERE replica_id = ?`, ms(now.Add(LeaseExpiry)), replica)
	return err
}

// ReleaseLeases gives back every lease row of replica (what its previous run held: a replica
// calls it at start, after storing what its usage journal kept) and, with expired set, every row of
// any replica that expired by now. It returns the number of rows given back.
func (db *DB) ReleaseLeases(ctx context.Context, replica string, expired bool, now time.Time) (int, error) {
	rows, err := db.query(ctx, `SELECT replica_id, key_id FROM limit_leases WHERE replica_id = ? OR (? AND expires_at <= ?)`,
		replica, expired, ms(now))
	if err != nil {
		return 0, err
	}
	type lease struct{ replica, key string }
	var found []lease
	for rows.Next() {
		var l lease
		if err := rows.Scan(&l.replica, &l.key); err != nil {
			rows.Close()
			return 0, err
		}
		found = append(found, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, l := range found {
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			// The key's row is locked first, as every transaction on leases does (see shrinkSpent).
			if _, err := db.txExec(ctx, tx, `UPDATE provider_keys SET in_flight = in_flight WHERE id = ?`, l.key); err != nil {
				return err
			}
			var money, slots int64
			// Deleted and read in one statement: of two replicas reclaiming the same row, one gives it back.
			err := db.txQueryRow(ctx, tx, `DELETE FROM limit_leases WHERE replica_id = ? AND key_id = ? RETURNING money_micros, slots`,
				l.replica, l.key).Scan(&money, &slots)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			n++
			_, err = db.txExec(ctx, tx, `UPDATE provider_keys SET month_reserved_micros = month_reserved_micros - ?, in_flight = in_flight - ? WHERE id = ?`,
				money, slots, l.key)
			return err
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// grantUser leases requests of a user's tier limits (day and minute) to a replica, as grantKey
// does for a key; a tier's counts need no lease row (they lapse with their period).
func (db *DB) grantUser(ctx context.Context, userID string, need, want grant, perDay, perMinute *int64, now time.Time) (grant, error) {
	day, minute := polydev.DayOf(now), polydev.MinuteOf(now)
	dayMax, minMax := sql.NullInt64{Int64: math.MaxInt64}, sql.NullInt64{Int64: math.MaxInt64}
	if perDay != nil {
		dayMax = sql.NullInt64{Int64: *perDay, Valid: true}
	}
	if perMinute != nil {
		minMax = sql.NullInt64{Int64: *perMinute, Valid: true}
	}
	var got grant
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for attempt := 0; ; attempt++ {
			var usageDay string
			var dayReq, window, rpmCount int64
			err := db.txQueryRow(ctx, tx, `SELECT usage_day, day_requests, rpm_window, rpm_count FROM user_counters WHERE user_id = ?`, userID).
				Scan(&usageDay, &dayReq, &window, &rpmCount)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if usageDay != day {
				dayReq = 0
			}
			if window != minute {
				rpmCount = 0
			}
			switch {
			case dayReq+need.day > dayMax.Int64:
				return limitError(&polydev.LimitError{Limit: "tier_requests_per_day", Scope: "your tier", ResetAt: polydev.NextDay(now)}, now)
			case rpmCount+need.rpm > minMax.Int64:
				return limitError(&polydev.LimitError{Limit: "tier_requests_per_minute", Scope: "your tier", ResetAt: polydev.NextMinute(now)}, now)
			}
			g := grant{day: share(need.day, want.day, dayMax, dayReq), rpm: share(need.rpm, want.rpm, minMax, rpmCount)}
			// Added only while both limits hold with it (an insert starts below both).
			res, err := db.txExec(ctx, tx, addUserCounts+`
				WHERE (CASE WHEN user_counters.usage_day = excluded.usage_day THEN user_counters.day_requests ELSE 0 END) + excluded.day_requests <= ?
				AND (CASE WHEN user_counters.rpm_window = excluded.rpm_window THEN user_counters.rpm_count ELSE 0 END) + excluded.rpm_count <= ?`,
				userID, day, g.day, minute, g.rpm, userID, dayMax.Int64, minMax.Int64)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil || n > 0 {
				got = g
				return err
			}
			if attempt == 4 {
				// Five lost races in a row, or the user is gone: refuse, as a full minute would.
				return limitError(&polydev.LimitError{Limit: "tier_requests_per_minute", Scope: "your tier", ResetAt: polydev.NextMinute(now)}, now)
			}
		}
	})
	return got, err
}

// returnUser gives back a user's leased, unused requests of day and of window while those
// periods are still current.
func (db *DB) returnUser(ctx context.Context, userID string, g grant, day string, window int64) error {
	_, err := db.exec(ctx, `UPDATE user_counters SET
		day_requests = CASE WHEN usage_day = ? THEN day_requests - ? ELSE day_requests END,
		rpm_count = CASE WHEN rpm_window = ? THEN rpm_count - ? ELSE rpm_count END WHERE user_id = ?`,
		day, g.day, window, g.rpm, userID)
	return err
}
