package polydev

import (
	"context"
	"time"
)

// Reservation holds part of a key's budget and a slot of its limits for one request in flight. It is
// taken atomically before the upstream call (so limits hold under any concurrency and across
// replicas) and settled to the real cost by the request's usage record, or released if the call never
// happened. A reservation that outlives its expiry (its process died) is settled by the sweeper at the
// reserved amount: the upstream may well have billed the request.
type Reservation struct {
	ID        string
	KeyID     string
	UserID    string
	Amount    Money
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LimitStore enforces limits with atomic counters.
type LimitStore interface {
	// Reserve takes r.Amount of the key's monthly budget, one request of its daily and per-minute
	// limits and one concurrency slot, all or nothing. It returns a *LimitError naming the limit when
	// the key cannot take the request, ENOTFOUND when the key is gone or inactive.
	Reserve(ctx context.Context, r *Reservation, now time.Time) error
	// Release gives back a reservation whose upstream call did not produce a billable response (the
	// request still counts toward the daily and per-minute limits). Releasing twice is harmless.
	Release(ctx context.Context, id string) error
	// ExpiredReservations lists reservations past their expiry.
	ExpiredReservations(ctx context.Context, now time.Time, limit int) ([]*Reservation, error)
	// CountUserRequest counts one request against a user's tier limits (per day and per minute;
	// nil = unlimited), all or nothing; a *LimitError says which was hit. With both unlimited nothing
	// is counted (no write on the request path), so a limit an admin sets counts from then on.
	CountUserRequest(ctx context.Context, userID string, perDay, perMinute *int64, now time.Time) error
}

// LimitError says which limit refused a request and when it resets.
type LimitError struct {
	// Limit is "monthly_budget", "daily_limit", "rate_limit_rpm", "concurrency",
	// "tier_requests_per_day", "tier_requests_per_minute", or the gateway admission's
	// "requests_in_flight" and "body_bytes_in_flight" (checked before a body is read).
	Limit   string
	Scope   string    // what the limit belongs to: "key <name>" or "your <tier> tier"
	ResetAt time.Time // zero when it frees as requests finish (concurrency)
	// RetryAfter is how long from the refusal until a request can pass again, by the limiter's own
	// clock (RetryAfterAt); the gateway answers it as Retry-After.
	RetryAfter time.Duration
}

func (e *LimitError) Error() string {
	msg := e.Scope + ": " + limitText[e.Limit] + " reached"
	if !e.ResetAt.IsZero() {
		msg += "; resets at " + e.ResetAt.UTC().Format(time.RFC3339)
	}
	return msg
}

var limitText = map[string]string{
	"monthly_budget":           "monthly budget",
	"daily_limit":              "daily request limit",
	"rate_limit_rpm":           "requests-per-minute limit",
	"concurrency":              "concurrent request limit",
	"tier_requests_per_day":    "requests per day",
	"tier_requests_per_minute": "requests per minute",
	"requests_in_flight":       "limit of requests in flight",
	"body_bytes_in_flight":     "limit of request bytes in flight",
}

// Code is the error code a client gets: payment required for money, rate limited for the rest.
func (e *LimitError) Code() string {
	if e.Limit == "monthly_budget" {
		return EPAYMENT
	}
	return ERATELIMIT
}

// ConcurrencyRetryAfter is the pause suggested to a client refused for concurrency: a slot frees as
// soon as one of its requests in flight finishes, so there is no window to wait for.
const ConcurrencyRetryAfter = time.Second

// RetryAfterAt is how long from now until the limit lets a request through again: the time left in
// its window (at least a second), or ConcurrencyRetryAfter for a concurrency limit.
func (e *LimitError) RetryAfterAt(now time.Time) time.Duration {
	if e.ResetAt.IsZero() {
		return ConcurrencyRetryAfter
	}
	return max(e.ResetAt.Sub(now), time.Second)
}

// NextMonth, NextDay and NextMinute are when period counters reset (UTC).
func NextMonth(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

func NextDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
}

func NextMinute(t time.Time) time.Time { return t.UTC().Truncate(time.Minute).Add(time.Minute) }

// MinuteOf numbers minutes since the epoch: the window of per-minute counters.
func MinuteOf(t time.Time) int64 { return t.Unix() / 60 }
