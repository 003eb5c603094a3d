package polydev

import (
	"context"
	"time"
)

// UsageRecord is the accounting line of one gateway request. It holds metadata only, never content:
// it is what is kept even in ephemeral mode.
type UsageRecord struct {
	ID               string    `json:"id"`
	UserID           string    `json:"-"`
	KeyID            string    `json:"keyId,omitempty"` // the provider key used; "" when none was reached
	PlatformKey      bool      `json:"platformKey"`
	Provider         Provider  `json:"provider"`
	Model            string    `json:"model"`
	Surface          string    `json:"surface"` // inbound API: "openai", "anthropic", "gemini", "responses", "chat" or "embeddings"
	Stream           bool      `json:"stream"`
	Status           string    `json:"status"` // "ok", "error" or "cancelled"
	HTTPStatus       int       `json:"httpStatus"`
	ErrorCode        string    `json:"errorCode,omitempty"`
	InputTokens      int64     `json:"inputTokens"`
	OutputTokens     int64     `json:"outputTokens"`
	CacheReadTokens  int64     `json:"cacheReadTokens"`
	CacheWriteTokens int64     `json:"cacheWriteTokens"`
	ReasoningTokens  int64     `json:"reasoningTokens"`
	WebSearches      int64     `json:"webSearches"` // the provider's server-side web searches, billed per search
	Estimated        bool      `json:"estimated"`   // some counts are estimates (the provider did not report them)
	Cost             Money     `json:"cost"`
	DurationMS       int64     `json:"durationMs"`
	TTFBMS           int64     `json:"ttfbMs"`
	OverheadUS       int64     `json:"overheadUs"` // time Polydev itself spent
	SessionID        string    `json:"sessionId,omitempty"`
	ReservationID    string    `json:"-"` // settled by this record
	CreatedAt        time.Time `json:"createdAt"`

	// Unpriced marks a request served for a model the price table does not know (allowed only on a
	// user's own key without a budget): its cost is 0 because nobody knows it, not because it was free.
	Unpriced bool `json:"unpriced"`
}

// Usage statuses.
const (
	UsageOK        = "ok"
	UsageError     = "error"
	UsageCancelled = "cancelled"
	// UsageInterrupted marks a record written by the sweeper for a reservation whose process died:
	// billed at the reserved amount, counts estimated.
	UsageInterrupted = "interrupted"
)

// UsageStore persists usage records.
type UsageStore interface {
	// InsertUsage writes records in one transaction and adds each to its provider key's counters
	// (month spend, day requests, totals). Records already written (same id) are skipped, so a retry
	// after an unknown outcome does not count twice.
	InsertUsage(ctx context.Context, recs []*UsageRecord) error
	// ListUsage returns a user's records newest first, older than before (zero = now), at most limit.
	ListUsage(ctx context.Context, userID string, before time.Time, limit int) ([]*UsageRecord, error)
}
