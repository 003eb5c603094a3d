package storetest

import (
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// usageAt inserts one record for user and returns it.
func usageAt(t *testing.T, s polydev.Store, userID string, at time.Time, model string, status string, in, out int64, cost polydev.Money) *polydev.UsageRecord {
	t.Helper()
	prov, _, _ := polydev.SplitModel(model)
	r := &polydev.UsageRecord{ID: polydev.NewID(), UserID: userID, Provider: prov, Model: model, Surface: "openai",
		Status: status, HTTPStatus: 200, InputTokens: in, OutputTokens: out, Cost: cost, SessionID: polydev.NewID(), CreatedAt: at}
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{r}))
	return r
}

func testUsageStats(t *testing.T, s polydev.Store) {
	u, other := newUser(t, s, polydev.TierPlus), newUser(t, s, polydev.TierFree)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	usageAt(t, s, u.ID, day.Add(-time.Millisecond), "openai/gpt-4o-mini", polydev.UsageOK, 1000, 1000, 1000) // before the window
	usageAt(t, s, u.ID, day, "openai/gpt-4o-mini", polydev.UsageOK, 10, 5, 100)
	usageAt(t, s, u.ID, day.Add(23*time.Hour+59*time.Minute), "anthropic/claude-sonnet-4-5", polydev.UsageError, 7, 0, 0)
	usageAt(t, s, u.ID, day.Add(48*time.Hour), "openai/gpt-4o-mini", polydev.UsageOK, 20, 10, 300)
	usageAt(t, s, other.ID, day.Add(time.Hour), "gemini/gemini-2.5-flash", polydev.UsageOK, 99, 99, 999)

	st, err := s.UsageStats(ctx(t), u.ID, day)
	must(t, err)
	if want := (polydev.UsageTotals{Requests: 3, Errors: 1, InputTokens: 37, OutputTokens: 15, Cost: 400}); st.Totals != want {
		t.Fatalf("totals = %+v, want %+v", st.Totals, want)
	}
	wantDays := []polydev.UsageBucket{
		{Key: "2026-11-20", UsageTotals: polydev.UsageTotals{Requests: 2, Errors: 1, InputTokens: 17, OutputTokens: 5, Cost: 100}},
		{Key: "2026-11-22", UsageTotals: polydev.UsageTotals{Requests: 1, InputTokens: 20, OutputTokens: 10, Cost: 300}},
	}
	mustBuckets(t, "by day", st.ByDay, wantDays)
	mustBuckets(t, "by model", st.ByModel, []polydev.UsageBucket{
		{Key: "anthropic/claude-sonnet-4-5", UsageTotals: polydev.UsageTotals{Requests: 1, Errors: 1, InputTokens: 7}},
		{Key: "openai/gpt-4o-mini", UsageTotals: polydev.UsageTotals{Requests: 2, InputTokens: 30, OutputTokens: 15, Cost: 400}},
	})
	mustBuckets(t, "by provider", st.ByProvider, []polydev.UsageBucket{
		{Key: "anthropic", UsageTotals: polydev.UsageTotals{Requests: 1, Errors: 1, InputTokens: 7}},
		{Key: "openai", UsageTotals: polydev.UsageTotals{Requests: 2, InputTokens: 30, OutputTokens: 15, Cost: 400}},
	})

	empty, err := s.UsageStats(ctx(t), newUser(t, s, polydev.TierFree).ID, day)
	must(t, err)
	if empty.Totals != (polydev.UsageTotals{}) || len(empty.ByDay)+len(empty.ByModel)+len(empty.ByProvider) != 0 {
		t.Fatalf("stats of a user without records = %+v", empty)
	}

	all, err := s.PlatformUsage(ctx(t), day)
	must(t, err)
	if want := (polydev.UsageTotals{Requests: 4, Errors: 1, InputTokens: 136, OutputTokens: 114, Cost: 1399}); all.Totals != want {
		t.Fatalf("platform usage totals = %+v, want %+v (every user's records since the day)", all.Totals, want)
	}
	mustBuckets(t, "platform usage by provider", all.ByProvider, []polydev.UsageBucket{
		{Key: "anthropic", UsageTotals: polydev.UsageTotals{Requests: 1, Errors: 1, InputTokens: 7}},
		{Key: "gemini", UsageTotals: polydev.UsageTotals{Requests: 1, InputTokens: 99, OutputTokens: 99, Cost: 999}},
		{Key: "openai", UsageTotals: polydev.UsageTotals{Requests: 2, InputTokens: 30, OutputTokens: 15, Cost: 400}},
	})
	if len(all.ByDay) != 2 || all.ByDay[0].Requests != 3 {
		t.Fatalf("platform usage by day = %+v, want 2026-11-20 with 3 requests, then 2026-11-22", all.ByDay)
	}

	ps, err := s.PlatformStats(ctx(t), day.Add(time.Hour))
	must(t, err)
	// Active since day+1h: u (day+23:59, day+48h) and other (day+1h, the bound is inclusive).
	if ps.TotalUsers != 3 || ps.UsersByTier[polydev.TierPlus] != 1 || ps.UsersByTier[polydev.TierFree] != 2 ||
		ps.TotalRequests != 5 || ps.ActiveUsers != 2 || ps.TotalTokens != 2000+15+7+30+198 || ps.TotalCost != 1000+400+999 {
		t.Fatalf("platform stats = %+v", ps)
	}
	if ps, _ := s.PlatformStats(ctx(t), day.Add(2*time.Hour)); ps.ActiveUsers != 1 {
		t.Fatalf("active users since day+2h = %d, want 1", ps.ActiveUsers)
	}
}

func mustBuckets(t *testing.T, what string, got, want []polydev.UsageBucket) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %+v, want %+v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s[%d] = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func testRequestLogs(t *testing.T, s polydev.Store) {
	u, other := newUser(t, s, polydev.TierPlus), newUser(t, s, polydev.TierPlus)
	at := time.Now().UTC().Truncate(time.Millisecond)
	var recs []*polydev.UsageRecord
	for i := range 5 {
		// Two records share each millisecond: the cursor must neither skip nor repeat them.
		recs = append(recs, usageAt(t, s, u.ID, at.Add(time.Duration(i/2)*time.Millisecond), "openai/gpt-4o-mini", polydev.UsageOK, 1, 1, 1))
	}
	foreign := usageAt(t, s, other.ID, at, "openai/gpt-4o-mini", polydev.UsageOK, 1, 1, 1)

	seen := map[string]bool{}
	before := ""
	var prev *polydev.UsageRecord
	for page := 0; ; page++ {
		got, err := s.RequestLogs(ctx(t), u.ID, before, 2)
		must(t, err)
		if len(got) == 0 {
			break
		}
		for _, r := range got {
			if seen[r.ID] || r.UserID != u.ID {
				t.Fatalf("page %d: record %s repeated or foreign", page, r.ID)
			}
			if prev != nil && (r.CreatedAt.After(prev.CreatedAt) || r.CreatedAt.Equal(prev.CreatedAt) && r.ID > prev.ID) {
				t.Fatalf("page %d: not newest first", page)
			}
			seen[r.ID], prev = true, r
		}
		before = got[len(got)-1].ID
	}
	if len(seen) != len(recs) {
		t.Fatalf("paged through %d records, want %d", len(seen), len(recs))
	}
	first, err := s.RequestLogs(ctx(t), u.ID, "", 1)
	must(t, err)
	if len(first) != 1 || first[0].SessionID == "" || first[0].Model != "openai/gpt-4o-mini" || first[0].Cost != 1 {
		t.Fatalf("newest record = %+v", first)
	}
	// Another user's record is no cursor, and no hostile string is either.
	for _, cur := range []string{foreign.ID, polydev.NewID(), "' OR 1=1 --", "\x00"} {
		_, err := s.RequestLogs(ctx(t), u.ID, cur, 10)
		mustCode(t, err, polydev.ENOTFOUND)
	}
	if l, _ := s.RequestLogs(ctx(t), other.ID, "", 10); len(l) != 1 || l[0].ID != foreign.ID {
		t.Fatalf("other's logs = %+v", l)
	}
}
