package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func testPriceOverrides(t *testing.T, s polydev.Store) {
	rows, err := s.ListPriceOverrides(ctx(t))
	must(t, err)
	if len(rows) != 0 {
		t.Fatalf("fresh store has %d overrides", len(rows))
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := &polydev.ModelPrice{Model: "openai/gpt-4o-mini", InputPerMTok: 150_000, OutputPerMTok: 600_000, CachedInputPerMTok: 75_000, UpdatedAt: now}
	b := &polydev.ModelPrice{Model: "anthropic/claude-haiku-4-5", InputPerMTok: 1, OutputPerMTok: 2, CachedInputPerMTok: 3, CacheWritePerMTok: 4,
		MaxOutputTokens: 64_000, ContextWindow: 200_000, UpdatedAt: now}
	must(t, s.PutPriceOverrides(ctx(t), []*polydev.ModelPrice{a, b}))
	a2 := *a
	a2.InputPerMTok = 999
	must(t, s.PutPriceOverrides(ctx(t), []*polydev.ModelPrice{&a2})) // upsert
	rows, err = s.ListPriceOverrides(ctx(t))
	must(t, err)
	if want := []*polydev.ModelPrice{b, &a2}; !reflect.DeepEqual(rows, want) {
		t.Fatalf("overrides = %+v, want %+v", rows, want)
	}
	must(t, s.DeletePriceOverrides(ctx(t), []string{a.Model, "openai/never-set", "bad\x00name"}))
	rows, err = s.ListPriceOverrides(ctx(t))
	must(t, err)
	if len(rows) != 1 || rows[0].Model != b.Model {
		t.Fatalf("after delete = %+v", rows)
	}
}

// testPriceImport: the imported layer lives beside the overrides; an import never replaces an
// admin's override, an override replaces an imported row, and a later import refreshes its own rows.
func testPriceImport(t *testing.T, s polydev.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	override := &polydev.ModelPrice{Model: "openai/gpt-4o", InputPerMTok: 7, OutputPerMTok: 7, UpdatedAt: now}
	must(t, s.PutPriceOverrides(ctx(t), []*polydev.ModelPrice{override}))
	imported := []*polydev.ModelPrice{
		{Model: "openai/gpt-4o", InputPerMTok: 1, OutputPerMTok: 1, UpdatedAt: now},
		{Model: "openai/gpt-5", InputPerMTok: 2, OutputPerMTok: 3, CachedInputPerMTok: 4, MaxOutputTokens: 128_000, ContextWindow: 400_000, UpdatedAt: now},
		{Model: "gemini/gemini-9", InputPerMTok: 5, OutputPerMTok: 6, UpdatedAt: now},
	}
	n, err := s.ImportPrices(ctx(t), imported)
	must(t, err)
	if n != 2 {
		t.Fatalf("import wrote %d rows, want 2 (the override stays)", n)
	}
	refreshed := *imported[1]
	refreshed.InputPerMTok = 20
	n, err = s.ImportPrices(ctx(t), []*polydev.ModelPrice{&refreshed})
	must(t, err)
	if n != 1 {
		t.Fatalf("a second import wrote %d rows, want 1", n)
	}
	adminWins := &polydev.ModelPrice{Model: "gemini/gemini-9", InputPerMTok: 50, OutputPerMTok: 60, UpdatedAt: now}
	must(t, s.PutPriceOverrides(ctx(t), []*polydev.ModelPrice{adminWins}))

	rows, err := s.ListPriceOverrides(ctx(t))
	must(t, err)
	refreshed.Imported = true
	if want := []*polydev.ModelPrice{adminWins, override, &refreshed}; !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows = %+v\nwant %+v", rows, want)
	}
}
