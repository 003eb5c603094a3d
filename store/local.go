package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// Local is the single-node limiter (DESIGN.md §6): a DB whose limit counters and reservations live in
// process memory, so that admitting a request writes nothing. It is only correct when no other
// process serves requests from the same database — SQLite, whose file one server owns; PostgreSQL
// replicas keep the database's atomic statements (DB.Reserve).
//
//   - Reserve, Release and CountUserRequest check and take under one mutex: exact under any
//     concurrency, with no database write.
//   - Spend is durable usage: a key's month spend in memory is the database's, loaded once and then
//     raised by each usage batch after it commits. A reservation is held until the record settling it
//     is stored, so the budget check (durable spend + held reservations + amount ≤ budget) never
//     counts a request twice or lets one slip through.
//   - Request counts (a key's daily and per-minute counters, a user's tier counters) are written with
//     the next usage batch, in its transaction (every request ends in a usage record).
//   - After a crash nothing stays reserved (in-memory reservations vanish) and spend is exactly the
//     stored records; requests that were in flight are not billed (the provider may have served
//     them), and counts of requests whose records were not yet written are lost.
//
// Writes to provider keys must go through Local (as they do through store.Cached in serve), so that a
// changed limit or a usage reset applies at once.
type Local struct {
	*DB

	// settleMu orders usage batches, and loads of durable counters, with the memory updates that
	// follow them: a load never sees a commit whose memory update is still to come.
	settleMu sync.Mutex

	// Barrier, when set, is called before reads of usage (statistics, request logs) and before a
	// usage reset: serve sets it to the Recorder's Flush, so that records still on their way to the
	// database (see accounting.Journal) are stored first and a client reads its own writes.
	Barrier func(context.Context) error

	mu    sync.Mutex
	keys  map[string]*keyCounters
	users map[string]*userCounters
	held  map[string]*polydev.Reservation // in-flight reservations by id
	ended map[string]bool                 // held reservations whose request has ended (Journaled)

	// replica, when set (NewReplica), is this server's id among replicas sharing the database:
	// memory then counts against capacity leased from it (see replica.go), not against the limits.
	replica string
	leases  *leaseLoop
	fetches sync.WaitGroup // leases being taken ahead of need
}

// keyCounters are a provider key's limits and counters. pendingDay and pendingRPM are counted
// requests not yet written to the database.
type keyCounters struct {
	stale                     bool // limits changed: reload them before the next reservation
	name                      string
	active                    bool
	budget, daily, rpm, conc  int64 // -1 = no limit
	month                     string
	spend, reserved, inFlight int64
	day                       string
	dayRequests, pendingDay   int64
	window, rpmCount          int64
	pendingRPM                int64
	lease
}

type userCounters struct {
	day                  string
	dayRequests, pendDay int64
	window, rpmCount     int64
	pendRPM              int64
	lease
}

// maxUsers bounds the user counters kept; past it, those with nothing pending are dropped (they
// reload from the database).
const maxUsers = 100_000

var _ polydev.Store = (*Local)(nil)

// NewLocal wraps db with the single-node limiter. db must be the only server on its database.
func NewLocal(db *DB) *Local {
	return &Local{DB: db, keys: map[string]*keyCounters{}, users: map[string]*userCounters{}, held: map[string]*polydev.Reservation{}, ended: map[string]bool{}}
}

func limitOrNone(v sql.NullInt64) int64 {
	if v.Valid {
		return v.Int64
	}
	return -1
}

// loadKey reads a key's limits and durable counters; nil when the key is gone.
func (l *Local) loadKey(ctx context.Context, id string) (*keyCounters, error) {
	var k keyCounters
	var budget, daily, rpm, conc sql.NullInt64
	err := l.queryRow(ctx, `SELECT name, active, usage_month, month_spend_micros, monthly_budget_micros, usage_day, day_requests,
		daily_limit, rpm_window, rpm_count, rate_limit_rpm, concurrency_limit FROM provider_keys WHERE id = ?`, id).
		Scan(&k.name, &k.active, &k.month, &k.spend, &budget, &k.day, &k.dayRequests, &daily, &k.window, &k.rpmCount, &rpm, &conc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	k.budget, k.daily, k.rpm, k.conc = limitOrNone(budget), limitOrNone(daily), limitOrNone(rpm), limitOrNone(conc)
	k.spend = max(k.spend, 0) // a negative spend was left by versions before the overflow checks
	return &k, err
}

// key returns a key's counters under l.mu (held on return), loading them when first used or when
// its limits changed; nil when the key is gone.
func (l *Local) key(ctx context.Context, id string) (*keyCounters, error) {
	l.mu.Lock()
	if k := l.keys[id]; k != nil && !k.stale {
		if l.replica != "" && !k.refreshing && time.Since(k.loadedAt) >= limitsTTL {
			// Another replica may have changed the limits: re-read them off the request path,
			// one read at a time (every request in flight would otherwise read them too).
			k.refreshing = true
			go l.refreshLimits(id, k)
		}
		return k, nil
	}
	l.mu.Unlock()
	l.settleMu.Lock()
	loaded, err := l.loadKey(ctx, id)
	if loaded != nil && l.replica != "" {
		// A replica's memory counts only its own requests, against its leases.
		loaded.month, loaded.spend, loaded.day, loaded.dayRequests, loaded.window, loaded.rpmCount = "", 0, "", 0, 0, 0
	}
	l.mu.Lock()
	l.settleMu.Unlock()
	if err != nil || loaded == nil {
		l.mu.Unlock()
		return nil, err
	}
	k := l.keys[id]
	switch {
	case k == nil:
		loaded.loadedAt = time.Now()
		l.keys[id] = loaded
		return loaded, nil
	case k.stale: // limits changed; memory's counters stay authoritative
		k.stale = false
		k.setLimits(loaded)
	}
	return k, nil
}

// setLimits takes a key's limits from loaded (under l.mu); the counters stay.
func (k *keyCounters) setLimits(loaded *keyCounters) {
	k.name, k.active, k.loadedAt = loaded.name, loaded.active, time.Now()
	k.budget, k.daily, k.rpm, k.conc = loaded.budget, loaded.daily, loaded.rpm, loaded.conc
}

// roll restarts the counters of periods that ended before now.
func (k *keyCounters) roll(month, day string, minute int64) {
	if k.month != month {
		k.month, k.spend = month, 0
	}
	if k.day != day {
		k.day, k.dayRequests, k.pendingDay, k.ld = day, 0, 0, 0
	}
	if k.window != minute {
		k.window, k.rpmCount, k.pendingRPM, k.lr = minute, 0, 0, 0
	}
}

// Reserve implements polydev.LimitStore in memory.
func (l *Local) Reserve(ctx context.Context, r *polydev.Reservation, now time.Time) error {
	if err := checkAmount(r); err != nil {
		return err
	}
	if l.replica != "" {
		return l.reserveLeased(ctx, r, now)
	}
	k, err := l.key(ctx, r.KeyID)
	if err != nil {
		return err
	}
	if k == nil {
		return polydev.Errorf(polydev.ENOTFOUND, "key not found or inactive")
	}
	defer l.mu.Unlock()
	if !k.active {
		return polydev.Errorf(polydev.ENOTFOUND, "key not found or inactive")
	}
	k.roll(polydev.MonthOf(now), polydev.DayOf(now), polydev.MinuteOf(now))
	le := &polydev.LimitError{Scope: "key " + k.name}
	switch {
	case k.budget >= 0 && k.spend+k.reserved+int64(r.Amount) > k.budget:
		le.Limit, le.ResetAt = "monthly_budget", polydev.NextMonth(now)
	case k.daily >= 0 && k.dayRequests >= k.daily:
		le.Limit, le.ResetAt = "daily_limit", polydev.NextDay(now)
	case k.rpm >= 0 && k.rpmCount >= k.rpm:
		le.Limit, le.ResetAt = "rate_limit_rpm", polydev.NextMinute(now)
	case k.conc >= 0 && k.inFlight >= k.conc, k.reserved > polydev.MaxCounter-int64(r.Amount):
		le.Limit = "concurrency" // the second: reserved money at its ceiling (see polydev.MaxCounter)
	default:
		k.reserved += int64(r.Amount)
		k.inFlight++
		k.dayRequests++
		k.pendingDay++
		k.rpmCount++
		k.pendingRPM++
		held := *r
		l.held[r.ID] = &held
		return nil
	}
	return limitError(le, now)
}

// Release implements polydev.LimitStore. The request still counts toward the daily and per-minute
// limits.
func (l *Local) Release(ctx context.Context, id string) error {
	l.mu.Lock()
	r := l.held[id]
	if r != nil {
		l.giveBack(r)
	}
	l.mu.Unlock()
	if r == nil {
		return l.DB.Release(ctx, id) // a reservation row of an earlier version, if any
	}
	return nil
}

// ExpiredReservations implements polydev.LimitStore: rows left in the database (by an earlier
// version) and reservations held in memory, past their expiry.
func (l *Local) ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]*polydev.Reservation, error) {
	out, err := l.DB.ExpiredReservations(ctx, now, limit)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.held {
		if len(out) >= limit {
			break
		}
		if !r.ExpiresAt.After(now) {
			c := *r
			out = append(out, &c)
		}
	}
	return out, nil
}

// CountUserRequest implements polydev.LimitStore in memory.
func (l *Local) CountUserRequest(ctx context.Context, userID string, perDay, perMinute *int64, now time.Time) error {
	if perDay == nil && perMinute == nil {
		return nil // nothing to hold, nothing counted (as DB.CountUserRequest)
	}
	if l.replica != "" {
		return l.countLeased(ctx, userID, perDay, perMinute, now)
	}
	u, err := l.user(ctx, userID)
	if err != nil {
		return err
	}
	defer l.mu.Unlock()
	day, minute := polydev.DayOf(now), polydev.MinuteOf(now)
	if u.day != day {
		u.day, u.dayRequests, u.pendDay = day, 0, 0
	}
	if u.window != minute {
		u.window, u.rpmCount, u.pendRPM = minute, 0, 0
	}
	dayMax, minMax := int64(math.MaxInt64), int64(math.MaxInt64)
	if perDay != nil {
		dayMax = *perDay
	}
	if perMinute != nil {
		minMax = *perMinute
	}
	switch {
	case u.dayRequests >= dayMax:
		return limitError(&polydev.LimitError{Limit: "tier_requests_per_day", Scope: "your tier", ResetAt: polydev.NextDay(now)}, now)
	case u.rpmCount >= minMax:
		return limitError(&polydev.LimitError{Limit: "tier_requests_per_minute", Scope: "your tier", ResetAt: polydev.NextMinute(now)}, now)
	}
	u.dayRequests++
	u.pendDay++
	u.rpmCount++
	u.pendRPM++
	return nil
}

// user returns a user's tier counters under l.mu (held on return), loading them when first used.
func (l *Local) user(ctx context.Context, id string) (*userCounters, error) {
	l.mu.Lock()
	if u := l.users[id]; u != nil {
		return u, nil
	}
	if l.replica != "" {
		// A replica's memory counts only its own requests, against its leases; counters with
		// nothing pending and nothing leased unused can go (a later lease re-reads the database).
		if len(l.users) >= maxUsers {
			for id, u := range l.users {
				if u.pendDay == 0 && u.pendRPM == 0 && u.ld <= u.dayRequests && u.lr <= u.rpmCount {
					delete(l.users, id)
				}
			}
		}
		u := &userCounters{}
		l.users[id] = u
		return u, nil
	}
	l.mu.Unlock()
	l.settleMu.Lock()
	var loaded userCounters
	err := l.queryRow(ctx, `SELECT usage_day, day_requests, rpm_window, rpm_count FROM user_counters WHERE user_id = ?`, id).
		Scan(&loaded.day, &loaded.dayRequests, &loaded.window, &loaded.rpmCount)
	l.mu.Lock()
	l.settleMu.Unlock()
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		l.mu.Unlock()
		return nil, err
	}
	if u := l.users[id]; u != nil {
		return u, nil
	}
	if len(l.users) >= maxUsers {
		for id, u := range l.users {
			if u.pendDay == 0 && u.pendRPM == 0 {
				delete(l.users, id)
			}
		}
	}
	l.users[id] = &loaded
	return &loaded, nil
}
