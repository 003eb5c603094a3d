package store

import (
	"cmp"
	"context"
	"database/sql"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// Replica mode (NewReplica): several servers share one PostgreSQL database, and each admits
// requests from its own memory, as the single-node limiter does, against capacity it leased from
// the database in blocks instead of a database write per request.
//
//   - A lease is taken with the same conditional UPDATE that holds every limit of a key for a
//     single reservation (takeKey), only for more: money, requests of the day, requests of the
//     minute, concurrency slots. The database counts leased capacity as used, so the sum of what
//     all replicas may admit never exceeds a limit: leasing adds no overshoot. What it costs is
//     that a replica can be refused while another holds unused capacity; a lease takes at most
//     half of what is left of a limit (share), and unused capacity goes back after leaseIdle.
//   - Only limits a key or tier actually has are leased; requests counted against no limit are
//     written with the next usage batch, as on a single node.
//   - Money: a request's reservation is taken from the lease; when its usage record is stored, its
//     cost comes off the lease in the same transaction (month_reserved_micros down, spend up by
//     the same amount), so spend + reserved stays within the budget.
//   - Money and slots a replica holds are in its limit_leases row, renewed every minute. At start
//     a replica stores what its usage journal kept and then gives back every lease of its previous
//     run (ReleaseLeases); a row nobody renewed for LeaseExpiry is given back by any replica.
type lease struct {
	lm, ls   int64      // money and concurrency slots leased
	ld, lr   int64      // requests leased of the day and of the minute counted in the counters
	block    int64      // requests' worth a lease asks for; doubles while leases run out quickly
	grantAt  time.Time  // when the last lease was taken
	usedAt   time.Time  // when the last request was admitted
	loadedAt time.Time  // keys: when the limits were read (re-read every limitsTTL)
	grow     sync.Mutex // one lease request at a time

	refreshing bool // keys: the limits are being re-read
	fetching   bool // a lease is being taken ahead of need
}

const (
	// limitsTTL: a replica re-reads a key's limits this often (another replica may have changed them).
	limitsTTL = 2 * time.Second
	// leaseIdle: capacity unused for this long goes back to the database.
	leaseIdle = time.Second
	// Lease sizes, in requests' worth: the first lease, and the largest.
	leaseBlock, leaseMaxBlock = 32, 4096
)

// NewReplica wraps db with the replica limiter; replica is this server's stable id (the same
// across its restarts, different from every other replica's). Call ReleaseLeases(replica) after
// storing what the usage journal kept and before taking requests, and StartLeases.
func NewReplica(db *DB, replica string) *Local {
	l := NewLocal(db)
	l.replica = replica
	return l
}

// refreshLimits re-reads k's limits (a replica's, every limitsTTL); a key gone from the database
// is inactive from then on.
func (l *Local) refreshLimits(id string, k *keyCounters) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	loaded, err := l.loadKey(ctx, id)
	l.mu.Lock()
	defer l.mu.Unlock()
	k.refreshing = false
	switch {
	case err != nil: // kept as they were; the next request tries again
	case loaded == nil:
		k.active, k.loadedAt = false, time.Now()
	default:
		k.setLimits(loaded)
	}
}

// nextBlock is the size of the next lease: doubled when the last one ran out within a second.
func (ls *lease) nextBlock(now time.Time) int64 {
	switch {
	case ls.block == 0:
		ls.block = leaseBlock
	case now.Sub(ls.grantAt) < time.Second:
		ls.block = min(2*ls.block, leaseMaxBlock)
	}
	ls.grantAt = now
	return ls.block
}

// need is what admitting a request of amount lacks in k's leases (under l.mu).
func (k *keyCounters) need(amount int64) grant {
	var g grant
	if k.budget >= 0 && k.reserved+amount > k.lm {
		g.money = k.reserved + amount - k.lm
	}
	if k.daily >= 0 && k.dayRequests >= k.ld {
		g.day = 1
	}
	if k.rpm >= 0 && k.rpmCount >= k.lr {
		g.rpm = 1
	}
	if k.conc >= 0 && k.inFlight >= k.ls {
		g.slots = 1
	}
	return g
}

// low is what k's leases are running low on, one request's worth each (under l.mu): below half
// a lease's size, the next one is taken ahead of need, off the request path.
func (k *keyCounters) low(amount int64) grant {
	var g grant
	half := max(k.block, leaseBlock) / 2
	if k.budget >= 0 && amount > 0 && k.lm-k.reserved < half*amount {
		g.money = amount
	}
	if k.daily >= 0 && k.ld-k.dayRequests < half {
		g.day = 1
	}
	if k.rpm >= 0 && k.lr-k.rpmCount < half {
		g.rpm = 1
	}
	if k.conc >= 0 && k.ls-k.inFlight < max(1, half/4) {
		g.slots = 1
	}
	return g
}

// reserveLeased is Reserve in replica mode.
func (l *Local) reserveLeased(ctx context.Context, r *polydev.Reservation, now time.Time) error {
	for attempt := 0; ; attempt++ {
		k, err := l.key(ctx, r.KeyID)
		if err != nil {
			return err
		}
		if k == nil {
			return polydev.Errorf(polydev.ENOTFOUND, "key not found or inactive")
		}
		if !k.active {
			l.mu.Unlock()
			return polydev.Errorf(polydev.ENOTFOUND, "key not found or inactive")
		}
		k.roll(polydev.MonthOf(now), polydev.DayOf(now), polydev.MinuteOf(now))
		amount := int64(r.Amount)
		need := k.need(amount)
		if need.zero() {
			k.reserved += amount
			k.inFlight++
			k.dayRequests++
			k.rpmCount++
			if k.daily < 0 {
				k.pendingDay++ // counted against no limit: written with the next batch
			}
			if k.rpm < 0 {
				k.pendingRPM++
			}
			k.usedAt = now
			held := *r
			l.held[r.ID] = &held
			if !k.fetching && !k.low(amount).zero() {
				k.fetching = true
				l.fetches.Add(1)
				go func() {
					defer l.fetches.Done()
					// A refusal here is no one's: a request that finds the lease empty asks again.
					_ = l.growKey(context.Background(), r.KeyID, k, amount, now, true)
					l.mu.Lock()
					k.fetching = false
					l.mu.Unlock()
				}()
			}
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		if attempt == 4 {
			// Leases taken for this request went to concurrent ones each time.
			return limitError(&polydev.LimitError{Limit: "concurrency", Scope: "key " + k.name}, now)
		}
		if err := l.growKey(ctx, r.KeyID, k, amount, now, false); err != nil {
			return err
		}
	}
}

// growKey leases what k lacks for a request of amount (ahead: what it runs low on), unless a
// concurrent request did meanwhile.
func (l *Local) growKey(ctx context.Context, id string, k *keyCounters, amount int64, now time.Time, ahead bool) error {
	k.grow.Lock()
	defer k.grow.Unlock()
	l.mu.Lock()
	k.roll(polydev.MonthOf(now), polydev.DayOf(now), polydev.MinuteOf(now))
	need := k.need(amount)
	if ahead {
		need = k.low(amount)
	}
	block := k.nextBlock(now)
	l.mu.Unlock()
	if need.zero() {
		return nil
	}
	want := grant{money: need.money + (block-1)*amount, day: block, rpm: block, slots: max(1, block/4)}
	g, err := l.DB.grantKey(ctx, l.replica, id, need, want, now)
	if err != nil {
		return err
	}
	l.mu.Lock()
	k.lm += g.money
	k.ls += g.slots
	// Requests leased for a period that ended meanwhile lapse with it.
	if k.day == polydev.DayOf(now) {
		k.ld += g.day
	}
	if k.window == polydev.MinuteOf(now) {
		k.lr += g.rpm
	}
	l.mu.Unlock()
	return nil
}

// countLeased is CountUserRequest in replica mode.
func (l *Local) countLeased(ctx context.Context, userID string, perDay, perMinute *int64, now time.Time) error {
	day, minute := polydev.DayOf(now), polydev.MinuteOf(now)
	for attempt := 0; ; attempt++ {
		u, err := l.user(ctx, userID)
		if err != nil {
			return err
		}
		u.roll(day, minute)
		need := u.need(perDay, perMinute)
		if need.zero() {
			u.dayRequests++
			u.rpmCount++
			if perDay == nil {
				u.pendDay++
			}
			if perMinute == nil {
				u.pendRPM++
			}
			u.usedAt = now
			if !u.fetching && !u.low(perDay, perMinute).zero() {
				u.fetching = true
				l.fetches.Add(1)
				go func() {
					defer l.fetches.Done()
					_ = l.growUser(context.Background(), userID, u, perDay, perMinute, now, true)
					l.mu.Lock()
					u.fetching = false
					l.mu.Unlock()
				}()
			}
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		if attempt == 4 {
			return limitError(&polydev.LimitError{Limit: "tier_requests_per_minute", Scope: "your tier", ResetAt: polydev.NextMinute(now)}, now)
		}
		if err := l.growUser(ctx, userID, u, perDay, perMinute, now, false); err != nil {
			return err
		}
	}
}

func (u *userCounters) roll(day string, minute int64) {
	if u.day != day {
		u.day, u.dayRequests, u.pendDay, u.ld = day, 0, 0, 0
	}
	if u.window != minute {
		u.window, u.rpmCount, u.pendRPM, u.lr = minute, 0, 0, 0
	}
}

// need is what admitting one request lacks in u's leases (under l.mu).
func (u *userCounters) need(perDay, perMinute *int64) grant {
	var g grant
	if perDay != nil && u.dayRequests >= u.ld {
		g.day = 1
	}
	if perMinute != nil && u.rpmCount >= u.lr {
		g.rpm = 1
	}
	return g
}

// low is what u's leases are running low on (under l.mu; see keyCounters.low).
func (u *userCounters) low(perDay, perMinute *int64) grant {
	var g grant
	half := max(u.block, leaseBlock) / 2
	if perDay != nil && u.ld-u.dayRequests < half {
		g.day = 1
	}
	if perMinute != nil && u.lr-u.rpmCount < half {
		g.rpm = 1
	}
	return g
}

// growUser leases what u lacks for one request (ahead: what it runs low on), unless a concurrent
// request did meanwhile.
func (l *Local) growUser(ctx context.Context, id string, u *userCounters, perDay, perMinute *int64, now time.Time, ahead bool) error {
	u.grow.Lock()
	defer u.grow.Unlock()
	l.mu.Lock()
	u.roll(polydev.DayOf(now), polydev.MinuteOf(now))
	need := u.need(perDay, perMinute)
	if ahead {
		need = u.low(perDay, perMinute)
	}
	block := u.nextBlock(now)
	l.mu.Unlock()
	if need.zero() {
		return nil
	}
	g, err := l.DB.grantUser(ctx, id, need, grant{day: block, rpm: block}, perDay, perMinute, now)
	if err != nil {
		return err
	}
	l.mu.Lock()
	if u.day == polydev.DayOf(now) {
		u.ld += g.day
	}
	if u.window == polydev.MinuteOf(now) {
		u.lr += g.rpm
	}
	l.mu.Unlock()
	return nil
}

// spendLeases, inside a usage batch's transaction, takes each key's stored cost off this
// replica's money lease (at most what the lease holds): settle then moves it from reserved to
// spend, and shrinkSpent from the lease rows. It returns the amounts, for memory once the batch
// commits.
func (l *Local) spendLeases(ctx context.Context, tx *sql.Tx, sums map[keyMonth]*keySum) (map[string]int64, error) {
	if l.replica == "" {
		return nil, nil
	}
	latest := map[string]*keySum{}
	cost := map[string]int64{}
	for _, s := range sums {
		cost[s.key] = polydev.AddSat(cost[s.key], s.cost)
		if prev := latest[s.key]; prev == nil || s.month > prev.month {
			latest[s.key] = s
		}
	}
	spent := map[string]int64{}
	l.mu.Lock()
	for id, c := range cost {
		if k := l.keys[id]; k != nil && k.lm > 0 && c > 0 {
			spent[id] = min(c, k.lm)
		}
	}
	l.mu.Unlock()
	for id, m := range spent {
		latest[id].reserved += m
	}
	return spent, nil
}

// shrinkSpent takes what spendLeases found off the lease rows, after settle has updated the keys:
// every transaction locks a key's row before its lease row (grantKey, returnKey, ReleaseLeases do
// too), so that a batch and a lease taken at the same time never deadlock.
func (l *Local) shrinkSpent(ctx context.Context, tx *sql.Tx, spent map[string]int64) error {
	ids := slices.Sorted(maps.Keys(spent))
	for _, id := range ids {
		if err := l.shrinkLease(ctx, tx, l.replica, id, spent[id], 0); err != nil {
			return err
		}
	}
	return nil
}

// leaseLoop is the replica's upkeep service: unused capacity back every leaseIdle, lease rows
// renewed and expired ones of stopped replicas reclaimed every minute.
type leaseLoop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartLeases starts the upkeep of a replica's leases.
func (l *Local) StartLeases(log *slog.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	l.leases = &leaseLoop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.leases.done)
		tick := time.NewTicker(leaseIdle)
		defer tick.Stop()
		lastRenew := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				if err := l.trim(ctx, now, false); err != nil {
					log.Warn("giving back unused leases failed; retried", "service", "leases", "err", err)
				}
				if now.Sub(lastRenew) < time.Minute {
					continue
				}
				lastRenew = now
				if err := l.renewLeases(ctx, l.replica, now); err != nil {
					log.Error("renewing leases failed", "service", "leases", "err", err)
				}
				if n, err := l.ReleaseLeases(ctx, "", true, now); err != nil {
					log.Error("reclaiming expired leases failed", "service", "leases", "err", err)
				} else if n > 0 {
					log.Warn("gave back leases of stopped replicas", "service", "leases", "count", n)
				}
			}
		}
	}()
}

// StopLeases ends the upkeep and gives back everything leased and unused. serve calls it after the
// usage recorder has stored the last records, so that nothing is held any more.
func (l *Local) StopLeases(ctx context.Context) error {
	if l.leases != nil {
		l.leases.cancel()
		<-l.leases.done
	}
	l.AwaitLeases() // a lease taken ahead after the last trim would stay taken
	return l.trim(ctx, time.Now(), true)
}

// AwaitLeases waits for the leases being taken ahead of need (StopLeases, and tests that stop a
// replica as a crash would, with nothing in flight).
func (l *Local) AwaitLeases() { l.fetches.Wait() }

// trim gives back capacity unused since leaseIdle (all: every unused bit).
func (l *Local) trim(ctx context.Context, now time.Time, all bool) error {
	l.settleMu.Lock() // a batch's spendLeases reads the money lease
	defer l.settleMu.Unlock()
	type back struct {
		id     string
		user   bool
		g      grant
		day    string
		window int64
	}
	var backs []back
	idle := func(ls *lease) bool { return all || now.Sub(ls.usedAt) >= leaseIdle }
	l.mu.Lock()
	for id, k := range l.keys {
		if !idle(&k.lease) {
			continue
		}
		g := grant{money: max(0, k.lm-k.reserved), slots: max(0, k.ls-k.inFlight), day: max(0, k.ld-k.dayRequests), rpm: max(0, k.lr-k.rpmCount)}
		if !g.zero() {
			k.lm, k.ls, k.ld, k.lr = k.lm-g.money, k.ls-g.slots, k.ld-g.day, k.lr-g.rpm
			k.block = 0
			backs = append(backs, back{id, false, g, k.day, k.window})
		}
	}
	for id, u := range l.users {
		if !idle(&u.lease) {
			continue
		}
		g := grant{day: max(0, u.ld-u.dayRequests), rpm: max(0, u.lr-u.rpmCount)}
		if !g.zero() {
			u.ld, u.lr, u.block = u.ld-g.day, u.lr-g.rpm, 0
			backs = append(backs, back{id, true, g, u.day, u.window})
		}
	}
	l.mu.Unlock()
	var first error
	for _, b := range backs {
		var err error
		if b.user {
			err = l.returnUser(ctx, b.id, b.g, b.day, b.window)
		} else {
			err = l.returnKey(ctx, l.replica, b.id, b.g, b.day, b.window)
		}
		if err == nil {
			continue
		}
		first = cmp.Or(first, err)
		// Not given back: the capacity is still this replica's.
		l.mu.Lock()
		if b.user {
			if u := l.users[b.id]; u != nil {
				if u.day == b.day {
					u.ld += b.g.day
				}
				if u.window == b.window {
					u.lr += b.g.rpm
				}
			}
		} else if k := l.keys[b.id]; k != nil {
			k.lm, k.ls = k.lm+b.g.money, k.ls+b.g.slots
			if k.day == b.day {
				k.ld += b.g.day
			}
			if k.window == b.window {
				k.lr += b.g.rpm
			}
		}
		l.mu.Unlock()
	}
	return first
}

// Replica is the id NewReplica was given ("" for the single-node limiter).
func (l *Local) Replica() string { return l.replica }
