package storetest

import (
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func testUsage(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierPlus)
	now := time.Now().UTC().Truncate(time.Millisecond)
	budget := polydev.Money(1_000_000)
	key := &polydev.ProviderKey{ID: polydev.NewID(), UserID: u.ID, Provider: polydev.ProviderOpenAI, Name: "k", Secret: []byte{1},
		DEKVersion: 1, Preview: "abcd", Active: true, MonthlyBudget: &budget, CreatedAt: now, UpdatedAt: now,
		Usage: polydev.KeyUsage{Month: "1999-01", MonthSpend: 999, Day: "1999-01-01", DayRequests: 7}}
	must(t, s.CreateProviderKey(ctx(t), key))

	rec := func(at time.Time, cost polydev.Money) *polydev.UsageRecord {
		return &polydev.UsageRecord{ID: polydev.NewID(), UserID: u.ID, KeyID: key.ID, Provider: polydev.ProviderOpenAI, Model: "openai/gpt-4o-mini",
			Surface: "openai", Status: polydev.UsageOK, HTTPStatus: 200, InputTokens: 10, OutputTokens: 5, Cost: cost, CreatedAt: at}
	}
	a, b := rec(now.Add(-time.Second), 300), rec(now, 200)
	a.WebSearches = 3 // server-side web searches round-trip with the record
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{a, b}))
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{b})) // a retry must not count twice
	noKey := rec(now, 0)
	noKey.KeyID = ""
	must(t, s.InsertUsage(ctx(t), []*polydev.UsageRecord{noKey}))

	k, err := s.ProviderKeyFor(ctx(t), u.ID, key.ID)
	must(t, err)
	// The stale 1999 spend restarted; this month holds exactly a + b. (Requests count toward the daily
	// limit when they are reserved, not here.)
	if k.Usage.SpendThisMonth(now) != 500 || k.Usage.RequestsToday(now) != 0 || k.Usage.TotalRequests != 2 ||
		k.Usage.InputTokens != 20 || k.Usage.OutputTokens != 10 || k.Usage.TotalSpend != 500 || k.Usage.LastUsedAt == nil {
		t.Fatalf("key usage = %+v", k.Usage)
	}

	list, err := s.ListUsage(ctx(t), u.ID, time.Time{}, 10)
	must(t, err)
	if len(list) != 3 || list[2].ID != a.ID {
		t.Fatalf("ListUsage = %d records, last %v", len(list), list)
	}
	if *list[2] != *a {
		t.Fatalf("record round trip = %+v, want %+v", list[2], a)
	}
	logs, err := s.RequestLogs(ctx(t), u.ID, "", 10)
	must(t, err)
	if len(logs) != 3 || logs[2].ID != a.ID || logs[2].WebSearches != 3 {
		t.Fatalf("RequestLogs = %+v", logs)
	}
	page, err := s.ListUsage(ctx(t), u.ID, now, 10)
	must(t, err)
	if len(page) != 1 || page[0].ID != a.ID {
		t.Fatalf("page before now = %+v", page)
	}
	other := newUser(t, s, polydev.TierFree)
	if l, _ := s.ListUsage(ctx(t), other.ID, time.Time{}, 10); len(l) != 0 {
		t.Fatal("another user sees usage records")
	}
}
