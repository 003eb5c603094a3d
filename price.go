package polydev

import (
	"context"
	"strings"
	"time"
)

// ModelPrice is what one model costs, per million tokens. Input is the base price for prompt tokens
// that are neither read from nor written to a prompt cache; reasoning tokens are billed as output.
type ModelPrice struct {
	Model              string `json:"model"` // "provider/model"
	InputPerMTok       Money  `json:"inputPerMTok"`
	OutputPerMTok      Money  `json:"outputPerMTok"`
	CachedInputPerMTok Money  `json:"cachedInputPerMTok"`
	CacheWritePerMTok  Money  `json:"cacheWritePerMTok"`
	// MaxOutputTokens is the most the model generates in one answer, ContextWindow the most it reads
	// and writes together; 0 = unknown. A request's reservation clamps max_tokens to them.
	MaxOutputTokens int64 `json:"maxOutputTokens,omitempty"`
	ContextWindow   int64 `json:"contextWindow,omitempty"`
	// LongContext, when set, prices a request whose prompt (all its input tokens) is longer than
	// its threshold: every rate of such a request is the long-context one, as the providers bill long
	// prompts. Only the embedded table sets it; overrides and imported rows are flat.
	LongContext *LongContextPrice `json:"longContext,omitempty"`
	Imported    bool              `json:"-"` // a row of the imported layer (polydev pricing import), not an admin's override
	UpdatedAt   time.Time         `json:"updatedAt"`
}

// LongContextPrice is the rates of a request whose prompt is longer than AboveInputTokens.
type LongContextPrice struct {
	AboveInputTokens   int64 `json:"aboveInputTokens"`
	InputPerMTok       Money `json:"inputPerMTok"`
	OutputPerMTok      Money `json:"outputPerMTok"`
	CachedInputPerMTok Money `json:"cachedInputPerMTok"`
	CacheWritePerMTok  Money `json:"cacheWritePerMTok"`
}

// OutputCap is the largest output the model can produce in one answer, as far as the table knows:
// its max output tokens, else its context window, else 0 (unknown).
func (p *ModelPrice) OutputCap() int64 {
	if p.MaxOutputTokens > 0 {
		return p.MaxOutputTokens
	}
	return max(p.ContextWindow, 0)
}

// Provider returns the provider part of the model name.
func (p *ModelPrice) Provider() Provider {
	prov, _, _ := strings.Cut(p.Model, "/")
	return Provider(prov)
}

// SplitModel splits "provider/model" into its parts; ok is false without a known provider prefix.
func SplitModel(s string) (Provider, string, bool) {
	prov, model, ok := strings.Cut(s, "/")
	if !ok || model == "" || !Provider(prov).Valid() {
		return "", "", false
	}
	return Provider(prov), model, true
}

// PriceStore persists the admins' price overrides and the imported layer (rows from a price list an
// operator imported, Imported set); defaults are embedded in package pricing. Both layers live in one
// table: an admin's override replaces an imported row, an import never replaces an override.
type PriceStore interface {
	// ListPriceOverrides returns both layers' rows (Imported tells them apart), by model.
	ListPriceOverrides(ctx context.Context) ([]*ModelPrice, error)
	// PutPriceOverrides upserts the given rows as admin overrides in one transaction.
	PutPriceOverrides(ctx context.Context, rows []*ModelPrice) error
	// ImportPrices upserts rows into the imported layer in one transaction, leaving models that have
	// an admin override as they are; it returns how many rows were written.
	ImportPrices(ctx context.Context, rows []*ModelPrice) (int, error)
	// DeletePriceOverrides removes overrides (back to the default price); missing ones are ignored.
	DeletePriceOverrides(ctx context.Context, models []string) error
}
