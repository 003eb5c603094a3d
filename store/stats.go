package store

import (
	"context"
	"time"

	"github.com/polydev/polydev"
)

// totalsColumns sums usage records. The casts keep the sums BIGINT in PostgreSQL (SUM of BIGINT is
// NUMERIC there) and COALESCE makes an empty group zero.
const totalsColumns = `COUNT(*),
	CAST(COALESCE(SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END), 0) AS BIGINT),
	CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT),
	CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT),
	CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT),
	CAST(COALESCE(SUM(CASE WHEN unpriced THEN 1 ELSE 0 END), 0) AS BIGINT)`

const msPerDay = 24 * 60 * 60 * 1000

// UsageStats implements polydev.StatsStore. Days are UTC: created_at is Unix milliseconds, so the
// integer division by a day's milliseconds is the day number in both engines.
func (db *DB) UsageStats(ctx context.Context, userID string, since time.Time) (*polydev.UsageStats, error) {
	if !lookupable(userID) {
		return emptyUsageStats(), nil
	}
	return db.usageStats(ctx, `user_id = ? AND created_at >= ?`, userID, ms(since))
}

// PlatformUsage implements polydev.StatsStore: UsageStats over every user's records.
func (db *DB) PlatformUsage(ctx context.Context, since time.Time) (*polydev.UsageStats, error) {
	return db.usageStats(ctx, `created_at >= ?`, ms(since))
}

func emptyUsageStats() *polydev.UsageStats {
	return &polydev.UsageStats{ByDay: []polydev.UsageBucket{}, ByModel: []polydev.UsageBucket{}, ByProvider: []polydev.UsageBucket{}}
}

// usageStats sums the records that where (a constant of this file, never input) selects.
func (db *DB) usageStats(ctx context.Context, where string, args ...any) (*polydev.UsageStats, error) {
	st := emptyUsageStats()
	err := db.queryRow(ctx, `SELECT `+totalsColumns+` FROM usage_records WHERE `+where, args...).
		Scan(&st.Totals.Requests, &st.Totals.Errors, &st.Totals.InputTokens, &st.Totals.OutputTokens, (*int64)(&st.Totals.Cost), &st.Totals.Unpriced)
	if err != nil {
		return nil, err
	}
	for _, g := range []struct {
		expr string // one of these constants, never input
		day  bool   // the group is a day number, shown as its date
		dst  *[]polydev.UsageBucket
	}{{`created_at / 86400000`, true, &st.ByDay}, {`model`, false, &st.ByModel}, {`provider`, false, &st.ByProvider}} {
		if err := db.usageBuckets(ctx, g.expr, g.day, g.dst, where, args); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (db *DB) usageBuckets(ctx context.Context, expr string, day bool, dst *[]polydev.UsageBucket, where string, args []any) error {
	rows, err := db.query(ctx, `SELECT `+expr+`, `+totalsColumns+` FROM usage_records WHERE `+where+`
		GROUP BY `+expr+` ORDER BY `+expr, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b polydev.UsageBucket
		var dayNum int64
		var key any = &b.Key
		if day {
			key = &dayNum
		}
		if err := rows.Scan(key, &b.Requests, &b.Errors, &b.InputTokens, &b.OutputTokens, (*int64)(&b.Cost), &b.Unpriced); err != nil {
			return err
		}
		if day {
			b.Key = polydev.DayOf(time.UnixMilli(dayNum * msPerDay))
		}
		*dst = append(*dst, b)
	}
	return rows.Err()
}

// PlatformStats implements polydev.StatsStore.
func (db *DB) PlatformStats(ctx context.Context, activeSince time.Time) (*polydev.PlatformStats, error) {
	byTier, err := db.CountUsersByTier(ctx)
	if err != nil {
		return nil, err
	}
	st := &polydev.PlatformStats{UsersByTier: map[polydev.Tier]int{}}
	for _, t := range polydev.Tiers {
		st.UsersByTier[t] = byTier[t]
		st.TotalUsers += int64(byTier[t])
	}
	err = db.queryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT CASE WHEN created_at >= ? THEN user_id END),
		CAST(COALESCE(SUM(input_tokens + output_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN unpriced THEN 1 ELSE 0 END), 0) AS BIGINT)
		FROM usage_records`, ms(activeSince)).Scan(&st.TotalRequests, &st.ActiveUsers, &st.TotalTokens, (*int64)(&st.TotalCost), &st.Unpriced)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// requestLogColumns are the metadata columns a request log shows. They are listed here rather than
// shared with the accounting queries so that columns added for accounting do not change this page.
const requestLogColumns = `id, user_id, key_id, platform_key, provider, model, surface, stream, status, http_status, error_code,
	input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, estimated, cost_micros,
	duration_ms, ttfb_ms, overhead_us, session_id, created_at, unpriced, web_searches`

// RequestLogs implements polydev.StatsStore. The cursor is a record id: the page continues strictly
// after it in (created_at, id) order, so records sharing a millisecond are neither skipped nor repeated.
func (db *DB) RequestLogs(ctx context.Context, userID, beforeID string, limit int) ([]*polydev.UsageRecord, error) {
	if !lookupable(userID, beforeID) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "request log not found")
	}
	var q string
	var args []any
	if beforeID == "" {
		q = `SELECT ` + requestLogColumns + ` FROM usage_records WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`
		args = []any{userID, limit}
	} else {
		var at int64
		err := db.queryRow(ctx, `SELECT created_at FROM usage_records WHERE id = ? AND user_id = ?`, beforeID, userID).Scan(&at)
		if err != nil {
			return nil, notFound(err, "request log")
		}
		q = `SELECT ` + requestLogColumns + ` FROM usage_records WHERE user_id = ? AND (created_at < ? OR (created_at = ? AND id < ?))
			ORDER BY created_at DESC, id DESC LIMIT ?`
		args = []any{userID, at, at, beforeID, limit}
	}
	rows, err := db.query(ctx, q, args...)
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
			&r.ReasoningTokens, &r.Estimated, &cost, &r.DurationMS, &r.TTFBMS, &r.OverheadUS, &r.SessionID, &created, &r.Unpriced, &r.WebSearches)
		if err != nil {
			return nil, err
		}
		r.Cost, r.CreatedAt = polydev.Money(cost), fromMS(created)
		out = append(out, &r)
	}
	return out, rows.Err()
}
