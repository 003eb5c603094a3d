// Package pricing owns what models cost: an embedded default price table (prices.json) with each
// model's limits, the imported layer and the admins' overrides from the store, the resolution of
// model names as clients send them (bare, dated, -latest, any case) to a priced model, and the cost
// of a request's usage in exact, overflow-checked micro-dollars. It never calls a provider.
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

// defaultsFile is prices.json (and the file format `polydev pricing import` reads besides
// LiteLLM's): dollars per million tokens, limits in tokens.
type defaultsFile struct {
	AsOf    string               `json:"asOf"`
	Sources []string             `json:"sources"`
	Note    string               `json:"note"`
	Models  map[string]fileModel `json:"models"`
	// ServerTools are fees per provider for its server-side tools (the embedded table only).
	ServerTools map[polydev.Provider]struct {
		WebSearchPer1K float64 `json:"webSearchPer1K"`
	} `json:"serverTools"`
}

type fileModel struct {
	Input       float64  `json:"input"`
	Output      float64  `json:"output"`
	CachedInput float64  `json:"cachedInput"`
	CacheWrite  float64  `json:"cacheWrite"`
	MaxOutput   int64    `json:"maxOutput"`
	Context     int64    `json:"context"`
	Mode        string   `json:"mode"` // "" (chat) or "embedding"
	Aliases     []string `json:"aliases"`
	Note        string   `json:"note"`
	// Long: the rates of a prompt longer than Above input tokens (the embedded table only).
	Long *struct {
		Above       int64   `json:"above"`
		Input       float64 `json:"input"`
		Output      float64 `json:"output"`
		CachedInput float64 `json:"cachedInput"`
		CacheWrite  float64 `json:"cacheWrite"`
	} `json:"long"`
}

// price converts one row of the file format.
func (m fileModel) price(name string, at time.Time) (*polydev.ModelPrice, error) {
	if m.MaxOutput < 0 || m.Context < 0 || m.MaxOutput > MaxTokens || m.Context > MaxTokens {
		return nil, fmt.Errorf("%s: maxOutput and context must be between 0 and %d", name, MaxTokens)
	}
	p := &polydev.ModelPrice{Model: name, MaxOutputTokens: m.MaxOutput, ContextWindow: m.Context, UpdatedAt: at}
	for _, c := range []struct {
		dst *polydev.Money
		v   float64
	}{{&p.InputPerMTok, m.Input}, {&p.OutputPerMTok, m.Output}, {&p.CachedInputPerMTok, m.CachedInput}, {&p.CacheWritePerMTok, m.CacheWrite}} {
		v, err := polydev.MoneyFromDollars(c.v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		*c.dst = v
	}
	if l := m.Long; l != nil {
		lp, err := fileModel{Input: l.Input, Output: l.Output, CachedInput: l.CachedInput, CacheWrite: l.CacheWrite}.price(name, at)
		if err != nil {
			return nil, err
		}
		if l.Above <= 0 {
			return nil, fmt.Errorf("%s: long.above must be a positive token count", name)
		}
		p.LongContext = &polydev.LongContextPrice{AboveInputTokens: l.Above, InputPerMTok: lp.InputPerMTok, OutputPerMTok: lp.OutputPerMTok,
			CachedInputPerMTok: lp.CachedInputPerMTok, CacheWritePerMTok: lp.CacheWritePerMTok}
	}
	return p, nil
}

// defaults is the parsed embedded table: prices sorted by model, and alias → model, both
// "provider/name".
var defaults = sync.OnceValues(func() ([]*polydev.ModelPrice, map[string]string) {
	var f defaultsFile
	if err := json.Unmarshal(defaultsJSON, &f); err != nil {
		panic("pricing: embedded prices.json is invalid: " + err.Error()) // caught by tests at build time
	}
	asOf, _ := time.Parse("2006-01-02", f.AsOf)
	out := make([]*polydev.ModelPrice, 0, len(f.Models))
	aliases := map[string]string{}
	for name, m := range f.Models {
		p, err := m.price(name, asOf)
		if err != nil {
			panic("pricing: prices.json: " + err.Error())
		}
		prov, _, _ := polydev.SplitModel(name)
		for _, a := range m.Aliases {
			aliases[string(prov)+"/"+a] = name
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *polydev.ModelPrice) int { return strings.Compare(a.Model, b.Model) })
	return out, aliases
})

// Defaults returns a copy of the embedded price table, sorted by model.
func Defaults() []*polydev.ModelPrice {
	d, _ := defaults()
	out := make([]*polydev.ModelPrice, len(d))
	for i, p := range d {
		c := *p
		out[i] = &c
	}
	return out
}

// Entry is one row of the effective table.
type Entry struct {
	*polydev.ModelPrice
	Source string `json:"source"` // "default", "imported" or "override"
}

// Entry sources, lowest first: an imported row replaces a default, an override replaces both.
const (
	SourceDefault  = "default"
	SourceImported = "imported"
	SourceOverride = "override"
)

// Table is the effective price table: the embedded defaults, then the imported layer (`polydev
// pricing import`), then the admins' overrides on top. It is cached and reloaded every RefreshEvery
// (so other replicas see an admin's change) or at once after Invalidate.
type Table struct {
	Store        polydev.PriceStore
	RefreshEvery time.Duration // default 30s
	Now          func() time.Time

	mu       sync.RWMutex
	loadedAt time.Time
	snap     *snapshot
}

func (t *Table) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Entries returns the effective table sorted by model.
func (t *Table) Entries(ctx context.Context) ([]Entry, error) {
	sn, err := t.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(sn.byModel))
	for _, e := range sn.byModel {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Model, b.Model) })
	return out, nil
}

// Lookup returns the price of a client's model name ("provider/model" or a bare name, in any of the
// spellings Resolve accepts); ENOTFOUND when the table does not know it.
func (t *Table) Lookup(ctx context.Context, model string) (*polydev.ModelPrice, error) {
	res, err := t.Resolve(ctx, model)
	if err != nil {
		return nil, err
	}
	if res.Price == nil {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "model %q has no price; %s", truncate(model, 80), HowToPrice)
	}
	return res.Price, nil
}

// HowToPrice tells a client what to do about a model without a price.
const HowToPrice = "an admin can price it with PUT /api/admin/pricing or `polydev pricing import FILE`"

// Invalidate makes the next lookup reload from the store.
func (t *Table) Invalidate() {
	t.mu.Lock()
	t.loadedAt = time.Time{}
	t.mu.Unlock()
}

// snapshot is one load of the effective table, indexed for name resolution. Keys of byName,
// aliases and bare are lower case (model ids are matched without regard to case); byModel keeps
// the spelling of the table.
type snapshot struct {
	byModel map[string]Entry  // "provider/model" → entry
	byName  map[string]string // lower-case "provider/model" → the byModel key
	aliases map[string]string // lower-case "provider/alias" → the byModel key
	bare    map[string]string // lower-case bare name or alias → the byModel key, when unambiguous
}

func (t *Table) snapshot(ctx context.Context) (*snapshot, error) {
	every := t.RefreshEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	t.mu.RLock()
	if t.snap != nil && t.now().Sub(t.loadedAt) < every {
		sn := t.snap
		t.mu.RUnlock()
		return sn, nil
	}
	t.mu.RUnlock()

	rows, err := t.Store.ListPriceOverrides(ctx)
	if err != nil {
		return nil, err
	}
	sn := build(Defaults(), rows)
	t.mu.Lock()
	t.snap, t.loadedAt = sn, t.now()
	t.mu.Unlock()
	return sn, nil
}

// build layers the stored rows (imported and overrides) over the defaults and indexes the result.
func build(defs, stored []*polydev.ModelPrice) *snapshot {
	sn := &snapshot{byModel: map[string]Entry{}, byName: map[string]string{}, aliases: map[string]string{}, bare: map[string]string{}}
	for _, p := range defs {
		sn.byModel[p.Model] = Entry{p, SourceDefault}
	}
	for _, p := range stored {
		src := SourceOverride
		if p.Imported {
			src = SourceImported
		}
		sn.byModel[p.Model] = Entry{p, src}
	}
	for full := range sn.byModel {
		sn.byName[strings.ToLower(full)] = full
	}
	_, defAliases := defaults()
	for alias, full := range defAliases {
		if _, ok := sn.byModel[full]; ok {
			sn.aliases[strings.ToLower(alias)] = full
		}
	}
	seen := map[string]map[string]bool{}
	addBare := func(name, full string) {
		if _, bare, ok := polydev.SplitModel(name); ok {
			if seen[bare] == nil {
				seen[bare] = map[string]bool{}
			}
			seen[bare][full] = true
			sn.bare[bare] = full
		}
	}
	for lower, full := range sn.byName {
		addBare(lower, full)
	}
	for alias, full := range sn.aliases {
		addBare(alias, full)
	}
	for name, fulls := range seen {
		if len(fulls) > 1 {
			delete(sn.bare, name) // ambiguous: must be written with its provider
		}
	}
	return sn
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
