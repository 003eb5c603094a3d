package polydev

import (
	"context"
	"strings"
	"time"
)

// ModelPrice is what one model costs, per million tokens. Input is the base price for prompt tokens
// that are neither read from nor written to a prompt cache; reasoning tokens are billed as output.
type ModelPrice struct {
	Model              string    `json:"model"` // "provider/model"
	InputPerMTok       Money     `json:"inputPerMTok"`
	OutputPerMTok      Money     `json:"outputPerMTok"`
	CachedInputPerMTok Money     `json:"cachedInputPerMTok"`
	CacheWritePerMTok  Money     `json:"cacheWritePerMTok"`
	UpdatedAt          time.Time `json:"updatedAt"`
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

// PriceStore persists the admins' price overrides; defaults are embedded in package pricing.
type PriceStore interface {
	ListPriceOverrides(ctx context.Context) ([]*ModelPrice, error)
	// PutPriceOverrides upserts the given rows in one transaction.
	PutPriceOverrides(ctx context.Context, rows []*ModelPrice) error
	// DeletePriceOverrides removes overrides (back to the default price); missing ones are ignored.
	DeletePriceOverrides(ctx context.Context, models []string) error
}
