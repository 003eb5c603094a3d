package pricing

import (
	"context"
	"testing"

	"github.com/polydev/polydev"
)

type memStore struct{ rows []*polydev.ModelPrice }

func (m *memStore) ListPriceOverrides(context.Context) ([]*polydev.ModelPrice, error) {
	return m.rows, nil
}
func (m *memStore) PutPriceOverrides(_ context.Context, rows []*polydev.ModelPrice) error {
	m.rows = append(m.rows, rows...)
	return nil
}
func (m *memStore) DeletePriceOverrides(context.Context, []string) error { return nil }

func TestDefaultsValid(t *testing.T) {
	t.Parallel()
	d := Defaults()
	if len(d) < 10 {
		t.Fatalf("only %d default prices", len(d))
	}
	for _, p := range d {
		if _, _, ok := polydev.SplitModel(p.Model); !ok || p.InputPerMTok <= 0 || p.OutputPerMTok <= 0 {
			t.Errorf("bad default %+v", p)
		}
	}
}

func TestCost(t *testing.T) {
	t.Parallel()
	sonnet := &polydev.ModelPrice{InputPerMTok: 3_000_000, OutputPerMTok: 15_000_000, CachedInputPerMTok: 300_000, CacheWritePerMTok: 3_750_000}
	cases := []struct {
		name string
		p    *polydev.ModelPrice
		u    Usage
		want polydev.Money
	}{
		{"zero", sonnet, Usage{}, 0},
		{"plain", sonnet, Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}, 18_000_000},
		// 1200 input of which 1000 cache reads and 100 cache writes: 100*3 + 1000*0.3 + 100*3.75 = 975 µ$ per M → 0.000975 $
		{"cache", sonnet, Usage{InputTokens: 1200, CacheReadTokens: 1000, CacheWriteTokens: 100}, 975},
		{"rounding", sonnet, Usage{OutputTokens: 1}, 15},
		{"no cache price", &polydev.ModelPrice{InputPerMTok: 1_000_000, OutputPerMTok: 1}, Usage{InputTokens: 10, CacheReadTokens: 10}, 10},
	}
	for _, c := range cases {
		if got := Cost(c.p, c.u); got != c.want {
			t.Errorf("%s: Cost = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestLookupAndOverrides(t *testing.T) {
	t.Parallel()
	st := &memStore{}
	tab := &Table{Store: st}
	p, err := tab.Lookup(t.Context(), "gpt-4o-mini")
	if err != nil || p.Model != "openai/gpt-4o-mini" {
		t.Fatalf("bare lookup = %+v, %v", p, err)
	}
	if _, err := tab.Lookup(t.Context(), "nope/model"); polydev.ErrorCode(err) != polydev.ENOTFOUND {
		t.Fatalf("unknown model: %v", err)
	}
	st.rows = []*polydev.ModelPrice{{Model: "openai/gpt-4o-mini", InputPerMTok: 1, OutputPerMTok: 2}, {Model: "openai-compatible/llama3", InputPerMTok: 0, OutputPerMTok: 0}}
	tab.Invalidate()
	p, _ = tab.Lookup(t.Context(), "openai/gpt-4o-mini")
	if p.InputPerMTok != 1 {
		t.Fatalf("override not applied: %+v", p)
	}
	if p, err := tab.Lookup(t.Context(), "llama3"); err != nil || p.Model != "openai-compatible/llama3" {
		t.Fatalf("override-only bare lookup = %+v, %v", p, err)
	}
}
