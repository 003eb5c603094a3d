// Package pricing owns what models cost: an embedded default price table (prices.json), the admins'
// overrides from the store, bare model name resolution ("gpt-4o-mini" → "openai/gpt-4o-mini") and the
// cost of a request's usage in exact micro-dollars. It never calls a provider.
package pricing

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

//go:embed prices.json
var defaultsJSON []byte

type defaultsFile struct {
	AsOf   string `json:"asOf"`
	Models map[string]struct {
		Input       float64 `json:"input"`
		Output      float64 `json:"output"`
		CachedInput float64 `json:"cachedInput"`
		CacheWrite  float64 `json:"cacheWrite"`
	} `json:"models"`
}

// Defaults returns the embedded price table, sorted by model.
func Defaults() []*polydev.ModelPrice {
	var f defaultsFile
	if err := json.Unmarshal(defaultsJSON, &f); err != nil {
		panic("pricing: embedded prices.json is invalid: " + err.Error()) // caught by tests at build time
	}
	asOf, _ := time.Parse("2006-01-02", f.AsOf)
	out := make([]*polydev.ModelPrice, 0, len(f.Models))
	for name, m := range f.Models {
		p := &polydev.ModelPrice{Model: name, UpdatedAt: asOf}
		for _, c := range []struct {
			dst *polydev.Money
			v   float64
		}{{&p.InputPerMTok, m.Input}, {&p.OutputPerMTok, m.Output}, {&p.CachedInputPerMTok, m.CachedInput}, {&p.CacheWritePerMTok, m.CacheWrite}} {
			v, err := polydev.MoneyFromDollars(c.v)
			if err != nil {
				panic(fmt.Sprintf("pricing: %s: %v", name, err))
			}
			*c.dst = v
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *polydev.ModelPrice) int { return strings.Compare(a.Model, b.Model) })
	return out
}

// Entry is one row of the effective table.
type Entry struct {
	*polydev.ModelPrice
	Source string `json:"source"` // "default" or "override"
}

// Table is the effective price table: defaults with the admins' overrides applied. It is cached and
// reloaded every RefreshEvery (so other replicas see an admin's change) or at once after Put.
type Table struct {
	Store        polydev.PriceStore
	RefreshEvery time.Duration // default 30s
	Now          func() time.Time

	mu       sync.RWMutex
	loadedAt time.Time
	byModel  map[string]Entry
	byBare   map[string]string // bare model name → "provider/model", when unambiguous
}

func (t *Table) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Entries returns the effective table sorted by model.
func (t *Table) Entries(ctx context.Context) ([]Entry, error) {
	m, _, err := t.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Model, b.Model) })
	return out, nil
}

// Lookup returns the price of model ("provider/model" or a bare name known to the table) and its
// canonical "provider/model" name; ENOTFOUND when the table does not know it.
func (t *Table) Lookup(ctx context.Context, model string) (*polydev.ModelPrice, error) {
	m, bare, err := t.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if e, ok := m[model]; ok {
		return e.ModelPrice, nil
	}
	if full, ok := bare[model]; ok {
		return m[full].ModelPrice, nil
	}
	return nil, polydev.Errorf(polydev.ENOTFOUND, "model %q has no price; use provider/model, or ask an admin to add it to the price table", model)
}

// Invalidate makes the next lookup reload from the store.
func (t *Table) Invalidate() {
	t.mu.Lock()
	t.loadedAt = time.Time{}
	t.mu.Unlock()
}

func (t *Table) snapshot(ctx context.Context) (map[string]Entry, map[string]string, error) {
	every := t.RefreshEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	t.mu.RLock()
	if t.byModel != nil && t.now().Sub(t.loadedAt) < every {
		m, b := t.byModel, t.byBare
		t.mu.RUnlock()
		return m, b, nil
	}
	t.mu.RUnlock()

	overrides, err := t.Store.ListPriceOverrides(ctx)
	if err != nil {
		return nil, nil, err
	}
	m := map[string]Entry{}
	for _, p := range Defaults() {
		m[p.Model] = Entry{p, "default"}
	}
	for _, p := range overrides {
		m[p.Model] = Entry{p, "override"}
	}
	bare, seen := map[string]string{}, map[string]int{}
	for full := range m {
		if _, name, ok := polydev.SplitModel(full); ok {
			seen[name]++
			bare[name] = full
		}
	}
	for name, n := range seen {
		if n > 1 {
			delete(bare, name) // ambiguous: must be written with its provider
		}
	}
	t.mu.Lock()
	t.byModel, t.byBare, t.loadedAt = m, bare, t.now()
	t.mu.Unlock()
	return m, bare, nil
}

// Cost returns what usage costs at price p, in micro-dollars, rounded to the nearest micro-dollar.
// Cached and cache-written prompt tokens are billed at their own prices, the rest of the input at the
// base price; reasoning tokens are part of the output. A price of zero for cached input means the
// model has no cache discount: those tokens are billed at the base price.
func Cost(p *polydev.ModelPrice, u Usage) polydev.Money {
	cachedPrice, writePrice := p.CachedInputPerMTok, p.CacheWritePerMTok
	if cachedPrice == 0 {
		cachedPrice = p.InputPerMTok
	}
	if writePrice == 0 {
		writePrice = p.InputPerMTok
	}
	uncached := max(0, u.InputTokens-u.CacheReadTokens-u.CacheWriteTokens)
	total := int64(uncached)*int64(p.InputPerMTok) + int64(u.CacheReadTokens)*int64(cachedPrice) +
		int64(u.CacheWriteTokens)*int64(writePrice) + int64(u.OutputTokens)*int64(p.OutputPerMTok)
	return polydev.Money((total + 500_000) / 1_000_000)
}

// Usage is the token counts Cost needs (the gateway's usage, without the estimate flags).
type Usage struct {
	InputTokens      int // all prompt tokens, cached and cache-written included
	OutputTokens     int // all generated tokens, reasoning included
	CacheReadTokens  int // part of InputTokens
	CacheWriteTokens int // part of InputTokens
}
