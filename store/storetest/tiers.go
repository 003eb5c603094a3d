package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func testTierLimitsSeeded(t *testing.T, s polydev.Store) {
	rows, err := s.ListTierLimits(ctx(t))
	must(t, err)
	var tiers []polydev.Tier
	for _, r := range rows {
		tiers = append(tiers, r.Tier)
		if err := r.Validate(); err != nil {
			t.Errorf("seeded row %s invalid: %v", r.Tier, err)
		}
	}
	if !reflect.DeepEqual(tiers, polydev.Tiers) {
		t.Fatalf("tiers = %v, want %v", tiers, polydev.Tiers)
	}
	rules := map[polydev.Tier][2]string{
		polydev.TierFree:       {"unavailable", "unavailable"},
		polydev.TierPlus:       {"available", "opt_in"},
		polydev.TierPro:        {"available", "default_on"},
		polydev.TierEnterprise: {"required", "forced"},
	}
	for _, r := range rows {
		if got := [2]string{string(r.BYOK), string(r.Ephemeral)}; got != rules[r.Tier] {
			t.Errorf("tier %s byok/ephemeral = %v, want %v", r.Tier, got, rules[r.Tier])
		}
	}
	ent, err := s.TierLimitsFor(ctx(t), polydev.TierEnterprise)
	must(t, err)
	if ent.RequestsPerDay != nil || ent.PlatformKeys {
		t.Fatalf("enterprise = %+v, want unlimited requests and no platform keys", ent)
	}
	_, err = s.TierLimitsFor(ctx(t), "gold")
	mustCode(t, err, polydev.ENOTFOUND)
}

func testTierLimitsPut(t *testing.T, s polydev.Store) {
	plus, err := s.TierLimitsFor(ctx(t), polydev.TierPlus)
	must(t, err)
	rpd := int64(42)
	plus.RequestsPerDay = &rpd
	plus.RequestsPerMinute = nil
	plus.AllowedModels = []string{"openai/*", "anthropic/claude-sonnet-4-5"}
	plus.UpdatedAt = time.Now().UTC().Truncate(time.Millisecond)
	must(t, s.PutTierLimits(ctx(t), []*polydev.TierLimits{plus}))
	got, err := s.TierLimitsFor(ctx(t), polydev.TierPlus)
	must(t, err)
	if !reflect.DeepEqual(got, plus) {
		t.Fatalf("after put = %+v, want %+v", got, plus)
	}
}

// testTierLimitsPutAtomic checks all-or-nothing: a row the database refuses rolls back the others.
func testTierLimitsPutAtomic(t *testing.T, s polydev.Store) {
	before, err := s.ListTierLimits(ctx(t))
	must(t, err)
	good := *before[0]
	n := int64(1)
	good.RequestsPerDay = &n
	bad := *before[1]
	bad.BYOK = "sometimes" // violates the CHECK constraint
	if err := s.PutTierLimits(ctx(t), []*polydev.TierLimits{&good, &bad}); err == nil {
		t.Fatal("PutTierLimits accepted a row the schema forbids")
	}
	after, err := s.ListTierLimits(ctx(t))
	must(t, err)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("failed put changed rows:\nbefore %+v\nafter  %+v", before, after)
	}
}
