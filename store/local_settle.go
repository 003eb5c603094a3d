package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/polydev/polydev"
)

// pendingCounts are request counts taken from memory to be written with a usage batch.
type pendingCounts struct {
	id          string
	day         string
	dayN        int64
	window, rpm int64
}

// InsertUsage implements polydev.UsageStore: the batch, the request counts taken since the last
// batch, and (after the commit) the memory side: held reservations settled, spend added.
func (l *Local) InsertUsage(ctx context.Context, recs []*polydev.UsageRecord) error {
	l.settleMu.Lock()
	defer l.settleMu.Unlock()
	keys, users := l.takePending()
	var written []bool
	var spent map[string]int64
	err := l.inTx(ctx, func(tx *sql.Tx) error {
		var sums map[keyMonth]*keySum
		var err error
		if written, sums, err = l.insertUsage(ctx, tx, recs, l.holds); err != nil {
			return err
		}
		if spent, err = l.spendLeases(ctx, tx, sums); err != nil {
			return err
		}
		if err := l.settle(ctx, tx, sums, keys); err != nil {
			return err
		}
		if err := l.shrinkSpent(ctx, tx, spent); err != nil {
			return err
		}
		return l.writeUserCounts(ctx, tx, users)
	})
	if err != nil {
		l.restorePending(keys, users)
		return err
	}
	l.settled(recs, written, spent)
	return nil
}

func (l *Local) holds(reservationID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[reservationID] != nil
}

// takePending moves the counts not yet written out of memory.
func (l *Local) takePending() (keys, users []pendingCounts) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, k := range l.keys {
		if k.pendingDay > 0 || k.pendingRPM > 0 {
			keys = append(keys, pendingCounts{id, k.day, k.pendingDay, k.window, k.pendingRPM})
			k.pendingDay, k.pendingRPM = 0, 0
		}
	}
	for id, u := range l.users {
		if u.pendDay > 0 || u.pendRPM > 0 {
			users = append(users, pendingCounts{id, u.day, u.pendDay, u.window, u.pendRPM})
			u.pendDay, u.pendRPM = 0, 0
		}
	}
	return keys, users
}

// restorePending puts back counts whose write failed (those of periods still current).
func (l *Local) restorePending(keys, users []pendingCounts) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range keys {
		if k := l.keys[p.id]; k != nil {
			if k.day == p.day {
				k.pendingDay += p.dayN
			}
			if k.window == p.window {
				k.pendingRPM += p.rpm
			}
		}
	}
	for _, p := range users {
		if u := l.users[p.id]; u != nil {
			if u.day == p.day {
				u.pendDay += p.dayN
			}
			if u.window == p.window {
				u.pendRPM += p.rpm
			}
		}
	}
}

// addUserCounts adds counts (day_requests, rpm_count) to a user's tier counters; a counter of a
// past period restarts. A user deleted meanwhile gets no row.
const addUserCounts = `INSERT INTO user_counters (user_id, usage_day, day_requests, rpm_window, rpm_count)
	SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)
	ON CONFLICT (user_id) DO UPDATE SET
	day_requests = CASE WHEN user_counters.usage_day = excluded.usage_day THEN user_counters.day_requests + excluded.day_requests ELSE excluded.day_requests END,
	usage_day = excluded.usage_day,
	rpm_count = CASE WHEN user_counters.rpm_window = excluded.rpm_window THEN user_counters.rpm_count + excluded.rpm_count ELSE excluded.rpm_count END,
	rpm_window = excluded.rpm_window`

// writeUserCounts adds tier request counts to the users' counters (a counter of a past period
// restarts).
func (l *Local) writeUserCounts(ctx context.Context, tx *sql.Tx, users []pendingCounts) error {
	for _, p := range users {
		// The user may have been deleted meanwhile: then there is nothing to count.
		_, err := l.txExec(ctx, tx, addUserCounts, p.id, p.day, p.dayN, p.window, p.rpm, p.id)
		if err != nil {
			return err
		}
	}
	return nil
}

// settled applies a committed batch to memory: each reservation held here is given back, and each
// stored record's cost joins its key's month spend.
func (l *Local) settled(recs []*polydev.UsageRecord, written []bool, spent map[string]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, m := range spent {
		if k := l.keys[id]; k != nil {
			k.lm -= m
		}
	}
	for i, r := range recs {
		if res := l.held[r.ReservationID]; res != nil && r.ReservationID != "" {
			l.giveBack(res)
		}
		k := l.keys[r.KeyID]
		if !written[i] || k == nil {
			continue // a duplicate, or a key not loaded yet (its load reads the stored spend)
		}
		// As in the database: a record of a later month restarts the counter; one of an earlier
		// month (settled after the month turned) no longer counts toward the current budget.
		switch month := polydev.MonthOf(r.CreatedAt); {
		case month == k.month:
			k.spend = polydev.AddSat(k.spend, int64(r.Cost)) // as the database: saturates, a negative spend restarts
		case month > k.month:
			k.month, k.spend = month, polydev.AddSat(0, int64(r.Cost))
		}
	}
}

// giveBack ends held reservation r (under l.mu): its amount and, unless Journaled freed it already,
// its concurrency slot.
func (l *Local) giveBack(r *polydev.Reservation) {
	delete(l.held, r.ID)
	ended := l.ended[r.ID]
	delete(l.ended, r.ID)
	if k := l.keys[r.KeyID]; k != nil {
		k.reserved -= int64(r.Amount)
		if !ended {
			k.inFlight--
		}
	}
}

// Journaled is told that rec is durable (in the usage journal) but not yet stored: its request has
// ended, so its key's concurrency slot is free now; the reserved amount stays held until the record
// is stored and its cost has joined the key's spend.
func (l *Local) Journaled(rec *polydev.UsageRecord) {
	if rec.ReservationID == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if res := l.held[rec.ReservationID]; res != nil && !l.ended[res.ID] {
		l.ended[res.ID] = true
		if k := l.keys[res.KeyID]; k != nil {
			k.inFlight--
		}
	}
}

// barrier stores records still on their way to the database (see Barrier).
func (l *Local) barrier(ctx context.Context) error {
	if l.Barrier == nil {
		return nil
	}
	return l.Barrier(ctx)
}

// UsageStats implements polydev.StatsStore after the barrier.
func (l *Local) UsageStats(ctx context.Context, userID string, since time.Time) (*polydev.UsageStats, error) {
	if err := l.barrier(ctx); err != nil {
		return nil, err
	}
	return l.DB.UsageStats(ctx, userID, since)
}

// PlatformUsage implements polydev.StatsStore after the barrier.
func (l *Local) PlatformUsage(ctx context.Context, since time.Time) (*polydev.UsageStats, error) {
	if err := l.barrier(ctx); err != nil {
		return nil, err
	}
	return l.DB.PlatformUsage(ctx, since)
}

// PlatformStats implements polydev.StatsStore after the barrier.
func (l *Local) PlatformStats(ctx context.Context, activeSince time.Time) (*polydev.PlatformStats, error) {
	if err := l.barrier(ctx); err != nil {
		return nil, err
	}
	return l.DB.PlatformStats(ctx, activeSince)
}

// RequestLogs implements polydev.StatsStore after the barrier.
func (l *Local) RequestLogs(ctx context.Context, userID, beforeID string, limit int) ([]*polydev.UsageRecord, error) {
	if err := l.barrier(ctx); err != nil {
		return nil, err
	}
	return l.DB.RequestLogs(ctx, userID, beforeID, limit)
}

// ListUsage implements polydev.UsageStore after the barrier.
func (l *Local) ListUsage(ctx context.Context, userID string, before time.Time, limit int) ([]*polydev.UsageRecord, error) {
	if err := l.barrier(ctx); err != nil {
		return nil, err
	}
	return l.DB.ListUsage(ctx, userID, before, limit)
}

// UpdateProviderKey implements polydev.ProviderKeyStore; changed limits apply to the next reservation.
func (l *Local) UpdateProviderKey(ctx context.Context, k *polydev.ProviderKey) error {
	err := l.DB.UpdateProviderKey(ctx, k)
	l.staleKey(k.ID)
	return err
}

// DeleteProviderKey implements polydev.ProviderKeyStore.
func (l *Local) DeleteProviderKey(ctx context.Context, owner, id string) error {
	err := l.DB.DeleteProviderKey(ctx, owner, id)
	l.staleKey(id)
	return err
}

func (l *Local) staleKey(id string) {
	l.mu.Lock()
	if k := l.keys[id]; k != nil {
		k.stale = true
	}
	l.mu.Unlock()
}

// ResetProviderKeyUsage implements polydev.ProviderKeyStore: the month's spend and the day's count
// restart in the database and in memory together.
func (l *Local) ResetProviderKeyUsage(ctx context.Context, owner, id string, at time.Time) error {
	// Records of requests that ended before the reset are stored (and counted) before it.
	if err := l.barrier(ctx); err != nil {
		return err
	}
	l.settleMu.Lock()
	defer l.settleMu.Unlock()
	if err := l.DB.ResetProviderKeyUsage(ctx, owner, id, at); err != nil {
		return err
	}
	l.mu.Lock()
	if k := l.keys[id]; k != nil {
		k.month, k.spend, k.day, k.dayRequests, k.pendingDay = "", 0, "", 0, 0
	}
	l.mu.Unlock()
	return nil
}
