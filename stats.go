package polydev

import (
	"context"
	"time"
)

// UsageTotals sums usage records.
type UsageTotals struct {
	Requests     int64 // all requests, failed ones included
	Errors       int64 // requests whose status is not "ok"
	InputTokens  int64
	OutputTokens int64
	Cost         Money
	Unpriced     int64 // requests recorded without a known price (see UsageRecord.Unpriced)
}

// UsageBucket is the totals of one group: a UTC day ("2026-11-27"), a model or a provider.
type UsageBucket struct {
	Key string
	UsageTotals
}

// UsageStats is one user's usage since a point in time, grouped three ways. Buckets are ordered by
// key (days oldest first); only groups with records appear.
type UsageStats struct {
	Totals     UsageTotals
	ByDay      []UsageBucket
	ByModel    []UsageBucket
	ByProvider []UsageBucket
}

// PlatformStats is the admin overview of the whole installation.
type PlatformStats struct {
	TotalUsers    int64
	ActiveUsers   int64 // users with a request since the given time
	UsersByTier   map[Tier]int
	TotalRequests int64
	TotalTokens   int64
	TotalCost     Money
	Unpriced      int64 // requests recorded without a known price
}

// StatsStore reports on usage records with SQL aggregates.
type StatsStore interface {
	// UsageStats sums userID's records created at or after since.
	UsageStats(ctx context.Context, userID string, since time.Time) (*UsageStats, error)
	// PlatformUsage is UsageStats over every user's records.
	PlatformUsage(ctx context.Context, since time.Time) (*UsageStats, error)
	// PlatformStats sums every user's records; active users are those with one at or after
	// activeSince.
	PlatformStats(ctx context.Context, activeSince time.Time) (*PlatformStats, error)
	// RequestLogs returns userID's records newest first, at most limit, starting after the record
	// beforeID ("" for the newest). ENOTFOUND when beforeID is not one of userID's records.
	RequestLogs(ctx context.Context, userID, beforeID string, limit int) ([]*UsageRecord, error)
}

// Days lists ByDay for every UTC day from since to until (both included), zeros for days without
// records, so that charts and clients see a gap as a zero, not as a missing day.
func (s *UsageStats) Days(since, until time.Time) []UsageBucket {
	have := make(map[string]UsageTotals, len(s.ByDay))
	for _, b := range s.ByDay {
		have[b.Key] = b.UsageTotals
	}
	var out []UsageBucket
	for d := since.UTC().Truncate(24 * time.Hour); !d.After(until); d = d.AddDate(0, 0, 1) {
		key := DayOf(d)
		out = append(out, UsageBucket{Key: key, UsageTotals: have[key]})
	}
	return out
}
