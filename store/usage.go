package store

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/polydev/polydev"
)

const usageColumns = `id, user_id, key_id, platform_key, provider, model, surface, stream, status, http_status, error_code,
	input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated, cost_micros,
	duration_ms, ttfb_ms, overhead_us, session_id, created_at, reservation_id, unpriced, web_searches`

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
//
// On PostgreSQL the rows go in with a few multi-row statements rather than one per record, and the
// reservation rows come out the same way (see usageChunks); SQLite takes one prepared statement per
// row.
func (db *DB) insertUsage(ctx context.Context, tx *sql.Tx, recs []*polydev.UsageRecord, inMemory func(reservationID string) bool) (written []bool, sums map[keyMonth]*keySum, err error) {
	written = make([]bool, len(recs))
	sums = map[keyMonth]*keySum{}
	held := make([]bool, len(recs))
	var fromTable []int // records whose reservation, if any is left, is a row of the reservations table
	for i, r := range recs {
		switch {
		case r.ReservationID == "":
		case inMemory != nil && inMemory(r.ReservationID):
			held[i] = true
		default:
			fromTable = append(fromTable, i)
		}
	}
	if len(fromTable) > 0 {
		amounts, err := db.takeReservations(ctx, tx, recs, fromTable)
		if err != nil {
			return nil, nil, err
		}
		for _, i := range fromTable {
			r := recs[i]
			amount, ok := amounts[r.ReservationID]
			if !ok {
				continue
			}
			// Only the first record naming it settles a reservation (a retry's duplicate names it too).
			delete(amounts, r.ReservationID)
			held[i] = true
			// A reservation row was deleted: give back what it held, whether or not the record
			// turns out to be a duplicate.
			s := sumFor(sums, r.KeyID, polydev.MonthOf(r.CreatedAt))
			s.reserved += amount
			s.freed++
		}
	}
	insert := make([]int, 0, len(recs))
	seen := make(map[string]bool, len(recs))
	for i, r := range recs {
		if r.Status == polydev.UsageInterrupted && !held[i] {
			continue // the request settled its own reservation after the sweeper listed it
		}
		if seen[r.ID] {
			continue // twice in one batch: the first is the one stored
		}
		seen[r.ID] = true
		insert = append(insert, i)
	}
	stored, err := db.insertUsageRows(ctx, tx, recs, insert)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range insert {
		r := recs[i]
		if !stored[r.ID] {
			continue // already recorded
		}
		written[i] = true
		if r.KeyID == "" {
			continue // no key to charge
		}
		s := sumFor(sums, r.KeyID, polydev.MonthOf(r.CreatedAt))
		s.requests++
		s.cost = polydev.AddSat(s.cost, int64(r.Cost))
		s.inputTokens = polydev.AddSat(s.inputTokens, r.InputTokens)
		s.outputTokens = polydev.AddSat(s.outputTokens, r.OutputTokens)
		s.lastUsed = max(s.lastUsed, ms(r.CreatedAt))
	}
	return written, sums, nil
}

// usageChunks are the row counts of the multi-row statements: a batch goes in chunks of these
// sizes, largest first (37 records are 32 + 4 + 1 rows, three statements), so that a handful of
// fixed statement texts, each prepared once, serve every batch size. 64 rows of 25 columns stay far
// below both engines' limits on bound parameters.
//
// Only PostgreSQL takes chunks of more than one row (see maxChunk): there each statement is a round
// trip, and a batch of 64 records takes a quarter of the time it takes one by one. In SQLite a
// statement is a function call, the rows' own B-tree work is the cost either way, and a statement
// writing several rows that could fail half-way (a foreign key, NOT NULL) keeps a statement journal
// of every page it changes, which spills to a temporary file past 64 KiB: measured, 64 rows in one
// statement cost more CPU than 64 prepared single-row statements.
var usageChunks = [...]int{64, 32, 16, 8, 4, 2, 1}

// maxChunk is the largest chunk the engine is given.
func (db *DB) maxChunk() int {
	if db.dialect.Name() == "sqlite" {
		return 1
	}
	return usageChunks[0]
}

const usageColumnCount = 26

// usageInsert and reservationDelete hold the statement text for each chunk size, built once from
// fixed placeholders: never from input.
var usageInsert, reservationDelete = func() (ins, del map[int]string) {
	ins, del = map[int]string{}, map[int]string{}
	row := "(?" + strings.Repeat(", ?", usageColumnCount-1) + ")"
	for _, n := range usageChunks {
		ins[n] = `INSERT INTO usage_records (` + usageColumns + `) VALUES ` + row + strings.Repeat(", "+row, n-1) +
			` ON CONFLICT (id) DO NOTHING RETURNING id`
		del[n] = `DELETE FROM reservations WHERE id IN (?` + strings.Repeat(", ?", n-1) + `) RETURNING id, amount_micros`
	}
	return ins, del
}()

var usageInsertOne = strings.TrimSuffix(usageInsert[1], " RETURNING id")

// chunk returns the size of the next chunk for n items left.
func (db *DB) chunk(n int) int {
	limit := db.maxChunk()
	for _, c := range usageChunks {
		if c <= n && c <= limit {
			return c
		}
	}
	return 0
}

// insertUsageRows inserts recs[idx...] (distinct ids) and returns the ids that were new.
func (db *DB) insertUsageRows(ctx context.Context, tx *sql.Tx, recs []*polydev.UsageRecord, idx []int) (map[string]bool, error) {
	stored := make(map[string]bool, len(idx))
	args := make([]any, 0, usageColumnCount*db.chunk(len(idx)))
	// The single-row insert bound to tx once for the batch (a bound statement per row was a lookup
	// and an allocation each); nil while it has never been prepared (see txStmt).
	var one *sql.Stmt
	for len(idx) > 0 {
		n := db.chunk(len(idx))
		args = args[:0]
		for _, i := range idx[:n] {
			r := recs[i]
			args = append(args, r.ID, r.UserID, r.KeyID, r.PlatformKey, r.Provider, r.Model, r.Surface, r.Stream, r.Status, r.HTTPStatus, r.ErrorCode,
				r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteTokens, r.ReasoningTokens, r.Estimated, int64(r.Cost),
				r.DurationMS, r.TTFBMS, r.OverheadUS, r.SessionID, ms(r.CreatedAt), r.ReservationID, r.Unpriced, r.WebSearches)
		}
		if n == 1 {
			// One row: the rows affected say whether it was new. (RETURNING, in SQLite, costs twice the insert.)
			rctx, err := db.rowCtx(ctx)
			if err != nil {
				return nil, err
			}
			if one == nil {
				one = db.txStmt(rctx, tx, usageInsertOne)
			}
			var res sql.Result
			if one != nil {
				res, err = one.ExecContext(rctx, args...)
			} else {
				res, err = tx.ExecContext(rctx, db.q(usageInsertOne), args...)
			}
			if err != nil {
				return nil, err
			}
			if k, err := res.RowsAffected(); err != nil {
				return nil, err
			} else if k > 0 {
				stored[recs[idx[0]].ID] = true
			}
			idx = idx[1:]
			continue
		}
		idx = idx[n:]
		if err := db.collect(ctx, tx, usageInsert[n], args, func(rows *sql.Rows) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			stored[id] = true
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return stored, nil
}

// takeReservations deletes the reservation rows recs[idx...] name and returns their amounts by id;
// a reservation already settled or released is absent.
func (db *DB) takeReservations(ctx context.Context, tx *sql.Tx, recs []*polydev.UsageRecord, idx []int) (map[string]int64, error) {
	amounts := make(map[string]int64, len(idx))
	args := make([]any, 0, db.chunk(len(idx)))
	for len(idx) > 0 {
		n := db.chunk(len(idx))
		args = args[:0]
		for _, i := range idx[:n] {
			args = append(args, recs[i].ReservationID)
		}
		idx = idx[n:]
		if err := db.collect(ctx, tx, reservationDelete[n], args, func(rows *sql.Rows) error {
			var id string
			var amount int64
			if err := rows.Scan(&id, &amount); err != nil {
				return err
			}
			amounts[id] = amount
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return amounts, nil
}

// collect runs a statement that returns rows inside tx and hands each row to fn.
func (db *DB) collect(ctx context.Context, tx *sql.Tx, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := db.txQuery(ctx, tx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
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
			&r.ReasoningTokens, &r.Estimated, &cost, &r.DurationMS, &r.TTFBMS, &r.OverheadUS, &r.SessionID, &created, &r.ReservationID, &r.Unpriced, &r.WebSearches)
		if err != nil {
			return nil, err
		}
		r.Cost, r.CreatedAt = polydev.Money(cost), fromMS(created)
		out = append(out, &r)
	}
	return out, rows.Err()
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

// settleSet adds a batch's sums to a key's counters. Spend saturates at polydev.MaxCounter (the
// ? after "> " is MaxCounter minus the batch's cost, computed in Go) so that no number of records
// can wrap it around, and a negative spend (left by versions before the overflow checks) restarts
// at the batch's cost.
const settleSet = `month_spend_micros = CASE WHEN ? = 0 THEN month_spend_micros WHEN usage_month <> ? OR month_spend_micros < 0 THEN ?
		WHEN month_spend_micros > ? THEN ? ELSE month_spend_micros + ? END,
	usage_month = CASE WHEN ? = 0 THEN usage_month ELSE ? END,
	month_reserved_micros = month_reserved_micros - ?, in_flight = in_flight - ?,
	total_requests = total_requests + ?, input_tokens = input_tokens + ?, output_tokens = output_tokens + ?,
	total_spend_micros = CASE WHEN total_spend_micros < 0 THEN ? WHEN total_spend_micros > ? THEN ? ELSE total_spend_micros + ? END,
	last_used_at = COALESCE(?, last_used_at)`

// countsSet adds request counts; a counter of a past period restarts.
const countsSet = `day_requests = CASE WHEN usage_day = ? THEN day_requests + ? ELSE ? END, usage_day = ?,
	rpm_count = CASE WHEN rpm_window = ? THEN rpm_count + ? ELSE ? END, rpm_window = ?`

// The settle statement is one of three fixed texts (sums, counts, or both): never built from input.
const (
	settleSums   = `UPDATE provider_keys SET ` + settleSet + ` WHERE id = ?`
	settleCounts = `UPDATE provider_keys SET ` + countsSet + ` WHERE id = ?`
	settleBoth   = `UPDATE provider_keys SET ` + settleSet + `, ` + countsSet + ` WHERE id = ?`
)

func (db *DB) settleKey(ctx context.Context, tx *sql.Tx, s *keySum) error {
	args := make([]any, 0, 22)
	query := settleCounts
	if s.month != "" {
		var lastUsed sql.NullInt64
		if s.requests > 0 {
			lastUsed = sql.NullInt64{Int64: s.lastUsed, Valid: true}
		}
		query = settleSums
		room := polydev.MaxCounter - s.cost // s.cost ≤ MaxCounter (AddSat)
		args = append(args, s.requests, s.month, s.cost, room, polydev.MaxCounter, s.cost, s.requests, s.month, s.reserved, s.freed,
			s.requests, s.inputTokens, s.outputTokens, s.cost, room, polydev.MaxCounter, s.cost, lastUsed)
	}
	if c := s.counts; c != nil {
		if query == settleSums {
			query = settleBoth
		}
		args = append(args, c.day, c.dayN, c.dayN, c.day, c.window, c.rpm, c.rpm, c.window)
	}
	rctx, err := db.rowCtx(ctx)
	if err != nil {
		return err
	}
	_, err = db.txExec(rctx, tx, query, append(args, s.key)...)
	return err
}

// rowCtx is the context for one statement of a usage batch inside its transaction. On SQLite a
// statement is a function call on the connection the transaction holds, and for a context that
// can end the driver (modernc.org/sqlite) starts a watcher goroutine per statement: one goroutine
// start and hand-off per usage row. So there ctx is checked before each statement and the
// statement runs without its cancellation; the transaction still ends with ctx (database/sql rolls
// it back). On PostgreSQL a statement is a network round trip and keeps ctx.
func (db *DB) rowCtx(ctx context.Context) (context.Context, error) {
	if db.dialect.Name() != "sqlite" {
		return ctx, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}
