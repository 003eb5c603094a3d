package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// testUsageUnpriced: the unpriced flag survives the round trip and is counted in both reports.
func testUsageUnpriced(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	priced := usageAt(t, s, u.ID, day, "openai/gpt-4o-mini", polydev.UsageOK, 10, 5, 100)
	unpriced := &polydev.UsageRecord{ID: polydev.NewID(), UserID: u.ID, Provider: polydev.ProviderOpenAICompatible, Model: "openai-compatible/llama3",
		Surface: "openai", Status: polydev.UsageOK, HTTPStatus: 200, InputTokens: 7, OutputTokens: 3, Unpriced: true, CreatedAt: day.Add(time.Hour)}
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{unpriced}))

	list, err := s.ListUsage(ctx(t), u.ID, time.Time{}, 10)
	must(t, err)
	if len(list) != 2 || *list[0] != *unpriced || *list[1] != *priced {
		t.Fatalf("round trip = %+v", list)
	}
	logs, err := s.RequestLogs(ctx(t), u.ID, "", 10)
	must(t, err)
	if len(logs) != 2 || !logs[0].Unpriced || logs[1].Unpriced {
		t.Fatalf("request logs = %+v", logs)
	}
	st, err := s.UsageStats(ctx(t), u.ID, day)
	must(t, err)
	if st.Totals.Unpriced != 1 || st.Totals.Requests != 2 {
		t.Fatalf("totals = %+v", st.Totals)
	}
	mustBuckets(t, "by model", st.ByModel, []polydev.UsageBucket{
		{Key: "openai-compatible/llama3", UsageTotals: polydev.UsageTotals{Requests: 1, InputTokens: 7, OutputTokens: 3, Unpriced: 1}},
		{Key: "openai/gpt-4o-mini", UsageTotals: polydev.UsageTotals{Requests: 1, InputTokens: 10, OutputTokens: 5, Cost: 100}},
	})
	ps, err := s.PlatformStats(ctx(t), day)
	must(t, err)
	if ps.Unpriced != 1 {
		t.Fatalf("platform unpriced = %d, want 1", ps.Unpriced)
	}
}

// testSpendSaturates: a key's spend and total spend saturate at polydev.MaxCounter instead of
// wrapping to a negative amount (the 10^15 tokens took a key to -$6.9M), and reservation
// amounts outside [0, MaxMoney] are refused.
func testSpendSaturates(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	k := limitKey(t, s, u, func(*polydev.ProviderKey) {})
	now := time.Now().UTC().Truncate(time.Millisecond)
	rec := func(cost polydev.Money) *polydev.UsageRecord {
		return &polydev.UsageRecord{ID: polydev.NewID(), UserID: u.ID, KeyID: k.ID, Provider: polydev.ProviderOpenAI, Model: "openai/gpt-4o",
			Surface: "openai", Status: polydev.UsageOK, HTTPStatus: 200, InputTokens: math.MaxInt64, OutputTokens: 1, Cost: cost, CreatedAt: now}
	}
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{rec(math.MaxInt64), rec(math.MaxInt64)})) // one batch
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{rec(polydev.MaxMoney)}))                  // and on top
	got, err := s.ProviderKeyFor(ctx(t), u.ID, k.ID)
	must(t, err)
	if got.Usage.SpendThisMonth(now) != polydev.MaxCounter || got.Usage.TotalSpend != polydev.MaxCounter {
		t.Fatalf("spend = %d, total %d; want both saturated at %d", got.Usage.SpendThisMonth(now), got.Usage.TotalSpend, int64(polydev.MaxCounter))
	}

	// A key without a budget takes the largest amount; amounts beyond it, or negative, are refused
	// before they touch a counter.
	must(t, s.Reserve(ctx(t), reservation(k, polydev.MaxMoney, now), now))
	mustCode(t, s.Reserve(ctx(t), reservation(k, polydev.MaxMoney+1, now), now), polydev.EINVALID)
	mustCode(t, s.Reserve(ctx(t), reservation(k, -1, now), now), polydev.EINVALID)

	budget := polydev.MaxMoney
	b := limitKey(t, s, u, func(k *polydev.ProviderKey) { k.MonthlyBudget = &budget })
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{{ID: polydev.NewID(), UserID: u.ID, KeyID: b.ID, Provider: polydev.ProviderOpenAI,
		Model: "openai/gpt-4o", Surface: "openai", Status: polydev.UsageOK, Cost: math.MaxInt64, CreatedAt: now}}))
	if limitOf(t, s.Reserve(ctx(t), reservation(b, 1, now), now)) != "monthly_budget" {
		t.Fatal("a saturated spend must exhaust any budget")
	}
}
