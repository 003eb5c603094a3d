package pricing

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// memStore holds both stored layers as the SQL store does: an override replaces an imported row,
// an import never replaces an override.
type memStore struct {
	rows map[string]*polydev.ModelPrice
}

func (m *memStore) ListPriceOverrides(context.Context) ([]*polydev.ModelPrice, error) {
	out := []*polydev.ModelPrice{}
	for _, p := range m.rows {
		out = append(out, p)
	}
	return out, nil
}
func (m *memStore) PutPriceOverrides(_ context.Context, rows []*polydev.ModelPrice) error {
	for _, p := range rows {
		c := *p
		c.Imported = false
		m.rows[p.Model] = &c
	}
	return nil
}
func (m *memStore) ImportPrices(_ context.Context, rows []*polydev.ModelPrice) (int, error) {
	n := 0
	for _, p := range rows {
		if old := m.rows[p.Model]; old != nil && !old.Imported {
			continue
		}
		c := *p
		c.Imported = true
		m.rows[p.Model] = &c
		n++
	}
	return n, nil
}
func (m *memStore) DeletePriceOverrides(_ context.Context, models []string) error {
	for _, name := range models {
		delete(m.rows, name)
	}
	return nil
}

func newMem() *memStore { return &memStore{rows: map[string]*polydev.ModelPrice{}} }

func TestDefaultsValid(t *testing.T) {
	t.Parallel()
	d := Defaults()
	if len(d) < 60 {
		t.Fatalf("only %d default prices", len(d))
	}
	perProvider := map[polydev.Provider]int{}
	for _, p := range d {
		prov, name, ok := polydev.SplitModel(p.Model)
		embedding := strings.Contains(name, "embedding")
		switch {
		case !ok || CheckModelName(p.Model) != nil || name != strings.ToLower(name):
			t.Errorf("bad default name %q", p.Model)
		case p.InputPerMTok <= 0 || (p.OutputPerMTok <= 0) != embedding:
			t.Errorf("bad default price %+v", p)
		case p.MaxOutputTokens > 0 && p.ContextWindow > 0 && p.MaxOutputTokens > p.ContextWindow:
			t.Errorf("%s: max output %d above its context %d", p.Model, p.MaxOutputTokens, p.ContextWindow)
		case p.OutputCap() == 0:
			t.Errorf("%s: neither max output nor context known: max_tokens cannot be clamped", p.Model)
		}
		perProvider[prov]++
	}
	for _, prov := range []polydev.Provider{polydev.ProviderOpenAI, polydev.ProviderAnthropic, polydev.ProviderGemini} {
		if perProvider[prov] < 10 {
			t.Errorf("%s: only %d models", prov, perProvider[prov])
		}
	}
	_, aliases := defaults()
	tab := build(d, nil)
	for alias, full := range aliases {
		if _, ok := tab.byModel[full]; !ok || tab.byName[strings.ToLower(alias)] != "" {
			t.Errorf("alias %s → %s: target missing or alias shadows a model", alias, full)
		}
	}
}

func TestCost(t *testing.T) {
	t.Parallel()
	sonnet := &polydev.ModelPrice{InputPerMTok: 3_000_000, OutputPerMTok: 15_000_000, CachedInputPerMTok: 300_000, CacheWritePerMTok: 3_750_000}
	longCtx := &polydev.ModelPrice{InputPerMTok: 1_000_000, OutputPerMTok: 10_000_000, CachedInputPerMTok: 100_000,
		LongContext: &polydev.LongContextPrice{AboveInputTokens: 200_000, InputPerMTok: 2_000_000, OutputPerMTok: 15_000_000, CachedInputPerMTok: 1_000_000}}
	huge := &polydev.ModelPrice{InputPerMTok: math.MaxInt64, OutputPerMTok: math.MaxInt64, CachedInputPerMTok: math.MaxInt64, CacheWritePerMTok: math.MaxInt64}
	cases := []struct {
		name string
		p    *polydev.ModelPrice
		u    Usage
		want polydev.Money
	}{
		{"zero", sonnet, Usage{}, 0},
		{"nil price", nil, Usage{InputTokens: 5}, 0},
		{"plain", sonnet, Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}, 18_000_000},
		// 1200 input of which 1000 cache reads and 100 cache writes: 100*3 + 1000*0.3 + 100*3.75 = 975 µ$ per M → 0.000975 $
		{"cache", sonnet, Usage{InputTokens: 1200, CacheReadTokens: 1000, CacheWriteTokens: 100}, 975},
		{"rounding", sonnet, Usage{OutputTokens: 1}, 15},
		{"no cache price", &polydev.ModelPrice{InputPerMTok: 1_000_000, OutputPerMTok: 1}, Usage{InputTokens: 10, CacheReadTokens: 10}, 10},
		{"negative counts are zero", sonnet, Usage{InputTokens: -1_000_000, OutputTokens: -5, CacheReadTokens: -7}, 0},
		{"cache counts above the input", sonnet, Usage{InputTokens: 10, CacheReadTokens: 1_000_000}, 300_000},
		// The 10^15 tokens: $15 per M output is 1.5e10 dollars, past MaxMoney: saturates.
		{"1e15 tokens", sonnet, Usage{InputTokens: 1e15, OutputTokens: 1e15}, polydev.MaxMoney},
		{"max tokens at max price", huge, Usage{InputTokens: math.MaxInt, OutputTokens: math.MaxInt, CacheReadTokens: math.MaxInt / 2}, polydev.MaxMoney},
		{"one token at max price", huge, Usage{OutputTokens: 1}, 9_223_372_036_855}, // MaxInt64 / 1e6, rounded
		// A prompt past the long-context threshold bills the whole request at the long rates.
		{"long context below", longCtx, Usage{InputTokens: 200_000, OutputTokens: 1000}, 200_000*1 + 1000*10},
		{"long context above", longCtx, Usage{InputTokens: 200_001, CacheReadTokens: 1, OutputTokens: 1000}, (200_000*2 + 1*1 + 1000*15 + 0)},
		// Just under the saturation point: exact.
		{"exact near MaxMoney", &polydev.ModelPrice{OutputPerMTok: 1_000_000}, Usage{OutputTokens: int(polydev.MaxMoney)}, polydev.MaxMoney},
		{"exact below MaxMoney", &polydev.ModelPrice{OutputPerMTok: 1_000_000}, Usage{OutputTokens: int(polydev.MaxMoney) - 1}, polydev.MaxMoney - 1},
	}
	for _, c := range cases {
		if got := Cost(c.p, c.u); got != c.want {
			t.Errorf("%s: Cost = %d, want %d", c.name, got, c.want)
		}
	}
}

// TestCostMonotonic: more tokens never cost less (no wrap-around anywhere in the range).
func TestCostMonotonic(t *testing.T) {
	t.Parallel()
	p := &polydev.ModelPrice{InputPerMTok: 15_000_000, OutputPerMTok: 75_000_000}
	prev := polydev.Money(-1)
	for n := 1; n > 0 && n <= math.MaxInt/3; n *= 3 {
		c := Cost(p, Usage{InputTokens: n, OutputTokens: n})
		if c < prev || c < 0 || c > polydev.MaxMoney {
			t.Fatalf("Cost(%d tokens) = %d after %d", n, c, prev)
		}
		prev = c
	}
	if prev != polydev.MaxMoney {
		t.Fatalf("largest cost = %d, want saturation at %d", prev, polydev.MaxMoney)
	}
}

func TestLookupAndOverrides(t *testing.T) {
	t.Parallel()
	st := newMem()
	tab := &Table{Store: st}
	p, err := tab.Lookup(t.Context(), "gpt-4o-mini")
	if err != nil || p.Model != "openai/gpt-4o-mini" {
		t.Fatalf("bare lookup = %+v, %v", p, err)
	}
	if _, err := tab.Lookup(t.Context(), "openai/no-such-model"); polydev.ErrorCode(err) != polydev.ENOTFOUND || !strings.Contains(err.Error(), "/api/admin/pricing") {
		t.Fatalf("unknown model: %v", err)
	}
	st.rows["openai/gpt-4o-mini"] = &polydev.ModelPrice{Model: "openai/gpt-4o-mini", InputPerMTok: 1, OutputPerMTok: 2}
	st.rows["openai-compatible/Llama3"] = &polydev.ModelPrice{Model: "openai-compatible/Llama3"}
	tab.Invalidate()
	p, _ = tab.Lookup(t.Context(), "openai/gpt-4o-mini")
	if p.InputPerMTok != 1 {
		t.Fatalf("override not applied: %+v", p)
	}
	if p, err := tab.Lookup(t.Context(), "llama3"); err != nil || p.Model != "openai-compatible/Llama3" {
		t.Fatalf("override-only bare lookup = %+v, %v", p, err)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	st := newMem()
	st.rows["openai-compatible/Qwen/Qwen3-8B"] = &polydev.ModelPrice{Model: "openai-compatible/Qwen/Qwen3-8B", InputPerMTok: 1, OutputPerMTok: 1}
	tab := &Table{Store: st}
	cases := []struct {
		in       string
		provider polydev.Provider
		upstream string
		priced   string // the priced model; "" = unpriced
	}{
		// The price bypasses: every one is priced now.
		{"openai/gpt-4o-2024-08-06", "openai", "gpt-4o-2024-08-06", "openai/gpt-4o"},
		{"openai/GPT-4o", "openai", "gpt-4o", "openai/gpt-4o"},
		{"openai/gpt-4o ", "openai", "gpt-4o", "openai/gpt-4o"},
		{"anthropic/claude-haiku-4-5-20251001", "anthropic", "claude-haiku-4-5-20251001", "anthropic/claude-haiku-4-5"},
		// Spellings.
		{"  OpenAI/gpt-4o-mini\n", "openai", "gpt-4o-mini", "openai/gpt-4o-mini"},
		{"ANTHROPIC/Claude-Sonnet-4-5", "anthropic", "claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"},
		{"openai/gpt-4o-2024-05-13", "openai", "gpt-4o-2024-05-13", "openai/gpt-4o-2024-05-13"}, // a snapshot with its own price
		{"openai/gpt-5-2025-08-07", "openai", "gpt-5-2025-08-07", "openai/gpt-5"},
		{"openai/gpt-5-chat-latest", "openai", "gpt-5-chat-latest", "openai/gpt-5"},
		{"openai/o3-2025-04-16", "openai", "o3-2025-04-16", "openai/o3"},
		{"openai/codex-mini-latest", "openai", "codex-mini-latest", "openai/codex-mini"},
		{"anthropic/claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku-latest", "anthropic/claude-3-5-haiku"},
		{"anthropic/claude-3-7-sonnet-20250219", "anthropic", "claude-3-7-sonnet-20250219", "anthropic/claude-3-7-sonnet"},
		{"anthropic/claude-opus-4-20250514", "anthropic", "claude-opus-4-20250514", "anthropic/claude-opus-4-0"},
		{"anthropic/claude-sonnet-4-20250514", "anthropic", "claude-sonnet-4-20250514", "anthropic/claude-sonnet-4-0"},
		{"gemini/gemini-2.0-flash-001", "gemini", "gemini-2.0-flash-001", "gemini/gemini-2.0-flash"},
		{"gemini/gemini-2.5-flash-preview-09-2025", "gemini", "gemini-2.5-flash-preview-09-2025", "gemini/gemini-2.5-flash"},
		{"gemini/gemini-2.5-pro-preview-06-05", "gemini", "gemini-2.5-pro-preview-06-05", "gemini/gemini-2.5-pro"},
		// Bare names, as Claude Code, Codex and Gemini CLI send them.
		{"claude-sonnet-4-5-20250929", "anthropic", "claude-sonnet-4-5-20250929", "anthropic/claude-sonnet-4-5"},
		{"claude-haiku-4-5-20251001", "anthropic", "claude-haiku-4-5-20251001", "anthropic/claude-haiku-4-5"},
		{"claude-opus-4-1-20250805", "anthropic", "claude-opus-4-1-20250805", "anthropic/claude-opus-4-1"},
		{"claude-opus-4-5-20251101", "anthropic", "claude-opus-4-5-20251101", "anthropic/claude-opus-4-5"},
		{"claude-opus-4-6", "anthropic", "claude-opus-4-6", "anthropic/claude-opus-4-6"},
		{"claude-sonnet-4-6", "anthropic", "claude-sonnet-4-6", "anthropic/claude-sonnet-4-6"},
		{"gpt-5-codex", "openai", "gpt-5-codex", "openai/gpt-5-codex"},
		{"gpt-5.1-codex-max", "openai", "gpt-5.1-codex-max", "openai/gpt-5.1-codex-max"},
		{"gpt-5.2-codex", "openai", "gpt-5.2-codex", "openai/gpt-5.2-codex"},
		{"gpt-5.3-codex", "openai", "gpt-5.3-codex", "openai/gpt-5.3-codex"},
		{"gpt-5.5", "openai", "gpt-5.5", "openai/gpt-5.5"},
		// The agents' current defaults (agents-notes, 2026-12-06).
		{"claude-opus-5-5", "anthropic", "claude-opus-5-5", "anthropic/claude-opus-5-5"},
		{"claude-sonnet-5-5", "anthropic", "claude-sonnet-5-5", "anthropic/claude-sonnet-5-5"},
		{"claude-haiku-5-5", "anthropic", "claude-haiku-5-5", "anthropic/claude-haiku-5-5"},
		{"gpt-6.2-sol", "openai", "gpt-6.2-sol", "openai/gpt-6.2-sol"},
		{"gemini-3.8-flash", "gemini", "gemini-3.8-flash", "gemini/gemini-3.8-flash"},
		{"gemini-3.5-flash-lite", "gemini", "gemini-3.5-flash-lite", "gemini/gemini-3.5-flash-lite"},
		{"gemini-2.5-pro", "gemini", "gemini-2.5-pro", "gemini/gemini-2.5-pro"},
		{"gemini-2.5-flash", "gemini", "gemini-2.5-flash", "gemini/gemini-2.5-flash"},
		{"gemini-2.5-flash-lite", "gemini", "gemini-2.5-flash-lite", "gemini/gemini-2.5-flash-lite"},
		{"gemini-3-pro-preview", "gemini", "gemini-3-pro-preview", "gemini/gemini-3-pro-preview"},
		{"gemini-3-flash-preview", "gemini", "gemini-3-flash-preview", "gemini/gemini-3-flash-preview"},
		{"gemini-3.1-pro-preview", "gemini", "gemini-3.1-pro-preview", "gemini/gemini-3.1-pro-preview"},
		{"text-embedding-3-small", "openai", "text-embedding-3-small", "openai/text-embedding-3-small"},
		{"gemini-embedding-001", "gemini", "gemini-embedding-001", "gemini/gemini-embedding-001"},
		// Compatible servers keep their ids' case; the table matches without it.
		{"openai-compatible/qwen/qwen3-8b", "openai-compatible", "Qwen/Qwen3-8B", "openai-compatible/Qwen/Qwen3-8B"},
		{"Qwen/QWEN3-8b", "openai-compatible", "Qwen/Qwen3-8B", "openai-compatible/Qwen/Qwen3-8B"},
		{"openai-compatible/Llama3.1:8B", "openai-compatible", "Llama3.1:8B", ""},
		// Unknown but well formed: routed unpriced (the router decides whether it may run).
		{"openai/gpt-9", "openai", "gpt-9", ""},
		{"anthropic/Claude-Next-20300101", "anthropic", "claude-next-20300101", ""},
		{"gemini/gemini-flash-latest", "gemini", "gemini-flash-latest", ""},
	}
	for _, c := range cases {
		res, err := tab.Resolve(t.Context(), c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		priced := ""
		if res.Price != nil {
			priced = res.Price.Model
		}
		if res.Provider != c.provider || res.Upstream != c.upstream || priced != c.priced {
			t.Errorf("%q → %s %q priced as %q, want %s %q priced as %q", c.in, res.Provider, res.Upstream, priced, c.provider, c.upstream, c.priced)
		}
	}
	for _, bad := range []string{"", "   ", "gpt-9", "openai/", "openai/gpt 4o", "openai/gpt-4o\x00", "nope/model", strings.Repeat("a", 300)} {
		if _, err := tab.Resolve(t.Context(), bad); polydev.ErrorCode(err) != polydev.EINVALID {
			t.Errorf("%q: error %v, want EINVALID", bad, err)
		}
	}
}

func TestWithoutVersion(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"claude-haiku-4-5-20251001":           "claude-haiku-4-5",
		"gpt-4o-2024-08-06":                   "gpt-4o",
		"claude-3-5-haiku-latest":             "claude-3-5-haiku",
		"gemini-1.5-pro-002":                  "gemini-1.5-pro",
		"gemini-2.5-flash-preview-09-2025":    "gemini-2.5-flash",
		"gemini-2.5-flash-lite-preview-06-17": "gemini-2.5-flash-lite",
		"gpt-4o":                              "",
		"gpt-3.5-turbo-0125":                  "", // a 4-digit snapshot can differ in price: only an exact entry prices it
		"gpt-4-0613":                          "",
		"latest":                              "",
		"-20251001":                           "",
	} {
		if got := withoutVersion(in); got != want {
			t.Errorf("withoutVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestImportLayer(t *testing.T) {
	t.Parallel()
	st := newMem()
	tab := &Table{Store: st}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.PutPriceOverrides(t.Context(), []*polydev.ModelPrice{{Model: "openai/gpt-4o", InputPerMTok: 7, OutputPerMTok: 7}}))
	n, err := st.ImportPrices(t.Context(), []*polydev.ModelPrice{
		{Model: "openai/gpt-4o", InputPerMTok: 1, OutputPerMTok: 1},
		{Model: "openai/gpt-4o-mini", InputPerMTok: 2, OutputPerMTok: 2, MaxOutputTokens: 99},
		{Model: "openai/brand-new", InputPerMTok: 3, OutputPerMTok: 3},
	})
	must(err)
	if n != 2 {
		t.Fatalf("imported %d rows, want 2 (the override stays)", n)
	}
	entries, err := tab.Entries(t.Context())
	must(err)
	src := map[string]Entry{}
	for _, e := range entries {
		src[e.Model] = e
	}
	if e := src["openai/gpt-4o"]; e.Source != SourceOverride || e.InputPerMTok != 7 {
		t.Errorf("override lost to an import: %+v %s", e.ModelPrice, e.Source)
	}
	if e := src["openai/gpt-4o-mini"]; e.Source != SourceImported || e.InputPerMTok != 2 || e.MaxOutputTokens != 99 {
		t.Errorf("imported row not above the default: %+v %s", e.ModelPrice, e.Source)
	}
	if e := src["anthropic/claude-haiku-4-5"]; e.Source != SourceDefault {
		t.Errorf("default = %s", e.Source)
	}
	if p, err := tab.Lookup(t.Context(), "openai/brand-new-2027-01-01"); err != nil || p.Model != "openai/brand-new" {
		t.Errorf("imported model's dated id = %+v, %v", p, err)
	}
}

func TestParseImportLiteLLM(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/litellm-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	rows, skipped, err := ParseImport(data, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []polydev.ModelPrice{
		{Model: "anthropic/claude-haiku-4-5-20251001", InputPerMTok: 1_000_000, OutputPerMTok: 5_000_000, CachedInputPerMTok: 100_000, CacheWritePerMTok: 1_250_000, MaxOutputTokens: 64000, ContextWindow: 200000, UpdatedAt: now},
		{Model: "gemini/gemini-2.5-flash", InputPerMTok: 300_000, OutputPerMTok: 2_500_000, CachedInputPerMTok: 30_000, MaxOutputTokens: 65535, ContextWindow: 1048576, UpdatedAt: now},
		{Model: "openai/ft:gpt-4o-mini-2024-07-18", InputPerMTok: 300_000, OutputPerMTok: 1_200_000, MaxOutputTokens: 16384, UpdatedAt: now},
		{Model: "openai/gpt-4o", InputPerMTok: 2_500_000, OutputPerMTok: 10_000_000, CachedInputPerMTok: 1_250_000, MaxOutputTokens: 16384, ContextWindow: 128000, UpdatedAt: now},
		{Model: "openai/text-embedding-3-small", InputPerMTok: 20_000, ContextWindow: 8191, UpdatedAt: now},
	}
	if len(rows) != len(want) || skipped != 5 {
		t.Fatalf("parsed %d rows (skipped %d): %+v", len(rows), skipped, rows)
	}
	for i := range want {
		if *rows[i] != want[i] {
			t.Errorf("row %d = %+v\nwant %+v", i, *rows[i], want[i])
		}
	}
}

func TestParseImportOwn(t *testing.T) {
	t.Parallel()
	now := time.Now()
	rows, _, err := ParseImport(defaultsJSON, now)
	if err != nil || len(rows) != len(Defaults()) {
		t.Fatalf("our own file: %d rows, %v", len(rows), err)
	}
	for _, bad := range []string{
		`[]`,
		`{"models": {"openai/x": {"input": -1}}}`,
		`{"models": {"nope/x": {"input": 1}}}`,
		`{"models": {"openai/x": {"input": 1, "maxOutput": 1e12}}}`,
		`{"models": {"openai/x": {"input": 1, "surprise": 2}}}`,
		`{"models": {"openai/x": {"input": 2e9}}}`,
	} {
		if _, _, err := ParseImport([]byte(bad), now); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
