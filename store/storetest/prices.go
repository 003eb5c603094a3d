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
	b := &polydev.ModelPrice{Model: "anthropic/claude-haiku-4-5", InputPerMTok: 1, OutputPerMTok: 2, CachedInputPerMTok: 3, CacheWritePerMTok: 4, UpdatedAt: now}
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
