package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// insertUsage writes a usage record for u directly.
func (e *env) insertUsage(u *polydev.User, at time.Time, model, status string, in, out int64, cost polydev.Money) *polydev.UsageRecord {
	e.t.Helper()
	prov, _, _ := polydev.SplitModel(model)
	r := &polydev.UsageRecord{ID: polydev.NewID(), UserID: u.ID, Provider: prov, Model: model, Surface: "chat", Status: status,
		HTTPStatus: 200, InputTokens: in, OutputTokens: out, Cost: cost, SessionID: polydev.NewID(), CreatedAt: at}
	if err := e.store.InsertUsage(e.t.Context(), []*polydev.UsageRecord{r}); err != nil {
		e.t.Fatal(err)
	}
	return r
}

type statsBody struct {
	Days   int
	Totals totalsJSON
	ByDay  []struct {
		Date string
		totalsJSON
	}
	ByModel []struct {
		Model string
		totalsJSON
	}
	ByProvider []struct {
		Provider string
		totalsJSON
	}
}

func TestDashboardStats(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			c := e.userWithTier("dash@example.com", polydev.TierPlus)
			u := mustUser(t, e, "dash@example.com")
			oc := e.userWithTier("other@example.com", polydev.TierFree)
			other := mustUser(t, e, "other@example.com")
			now := time.Now().UTC()
			e.insertUsage(u, now, "openai/gpt-4o-mini", polydev.UsageOK, 100, 50, 1000)
			e.insertUsage(u, now, "anthropic/claude-sonnet-4-5", polydev.UsageError, 10, 0, 0)
			e.insertUsage(u, now.AddDate(0, 0, -3), "openai/gpt-4o-mini", polydev.UsageOK, 20, 10, 500)
			e.insertUsage(u, now.AddDate(0, 0, -40), "openai/gpt-4o", polydev.UsageOK, 999, 999, 9999) // outside 30 days
			e.insertUsage(other, now, "gemini/gemini-2.5-flash", polydev.UsageOK, 7, 7, 7)

			var st statsBody
			e.want(e.do("GET", "/api/dashboard/stats", nil, "Cookie", c), http.StatusOK).json(t, &st)
			if want := (totalsJSON{Requests: 3, Errors: 1, InputTokens: 130, OutputTokens: 60, TotalTokens: 190, Cost: 1500}); st.Totals != want || st.Days != 30 {
				t.Fatalf("totals = %+v (days %d), want %+v", st.Totals, st.Days, want)
			}
			if len(st.ByDay) != 30 || st.ByDay[29].Date != polydev.DayOf(now) || st.ByDay[29].Requests != 2 ||
				st.ByDay[26].Date != polydev.DayOf(now.AddDate(0, 0, -3)) || st.ByDay[26].Requests != 1 || st.ByDay[0].Requests != 0 {
				t.Fatalf("byDay = %+v", st.ByDay)
			}
			if len(st.ByModel) != 2 || st.ByModel[1].Model != "openai/gpt-4o-mini" || st.ByModel[1].Requests != 2 || st.ByModel[1].Cost != 1500 {
				t.Fatalf("byModel = %+v", st.ByModel)
			}
			if len(st.ByProvider) != 2 || st.ByProvider[0].Provider != "anthropic" || st.ByProvider[0].Errors != 1 {
				t.Fatalf("byProvider = %+v", st.ByProvider)
			}
			e.want(e.do("GET", "/api/dashboard/stats?days=60", nil, "Cookie", c), http.StatusOK).json(t, &st)
			if st.Totals.Requests != 4 || len(st.ByDay) != 60 {
				t.Fatalf("60 days: totals %+v, %d days", st.Totals, len(st.ByDay))
			}
			var ost statsBody
			e.want(e.do("GET", "/api/dashboard/stats", nil, "Cookie", oc), http.StatusOK).json(t, &ost)
			if ost.Totals.Requests != 1 || ost.ByModel[0].Model != "gemini/gemini-2.5-flash" {
				t.Fatalf("other's stats = %+v", ost)
			}
			for _, q := range []string{"?days=0", "?days=367", "?days=x", "?days=1&days=2"} {
				e.want(e.do("GET", "/api/dashboard/stats"+q, nil, "Cookie", c), http.StatusBadRequest).errorBody(t)
			}
			e.want(e.do("GET", "/api/dashboard/stats", nil), http.StatusUnauthorized)
		})
	}
}

type logsBody struct {
	Logs       []*polydev.UsageRecord
	NextBefore *string
}

func TestRequestLogs(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			c := e.userWithTier("logs@example.com", polydev.TierPlus)
			u := mustUser(t, e, "logs@example.com")
			oc := e.userWithTier("other@example.com", polydev.TierPlus)
			other := mustUser(t, e, "other@example.com")
			now := time.Now().UTC()
			mine := map[string]bool{}
			for i := range 5 {
				mine[e.insertUsage(u, now.Add(-time.Duration(i/2)*time.Millisecond), "openai/gpt-4o-mini", polydev.UsageOK, 1, 1, 1).ID] = true
			}
			foreign := e.insertUsage(other, now, "openai/gpt-4o-mini", polydev.UsageOK, 1, 1, 1)

			seen := map[string]bool{}
			path := "/api/dashboard/request-logs?limit=2"
			for pages := 0; ; pages++ {
				if pages > 5 {
					t.Fatal("paging does not end")
				}
				var b logsBody
				r := e.want(e.do("GET", path, nil, "Cookie", c), http.StatusOK)
				r.json(t, &b)
				if strings.Contains(string(r.body), "userId") || strings.Contains(string(r.body), other.ID) {
					t.Fatalf("logs show user ids: %s", r.body)
				}
				for _, l := range b.Logs {
					if !mine[l.ID] || seen[l.ID] {
						t.Fatalf("log %s foreign or repeated", l.ID)
					}
					seen[l.ID] = true
				}
				if b.NextBefore == nil {
					break
				}
				path = "/api/dashboard/request-logs?limit=2&before=" + *b.NextBefore
			}
			if len(seen) != 5 {
				t.Fatalf("paged through %d logs, want 5", len(seen))
			}
			var all logsBody
			e.want(e.do("GET", "/api/dashboard/request-logs", nil, "Cookie", c), http.StatusOK).json(t, &all)
			if len(all.Logs) != 5 || all.NextBefore != nil || all.Logs[0].Model != "openai/gpt-4o-mini" || all.Logs[0].SessionID == "" {
				t.Fatalf("default page = %+v", all)
			}

			// IDOR: another user's record is no cursor, and the other user sees only their own.
			e.want(e.do("GET", "/api/dashboard/request-logs?before="+foreign.ID, nil, "Cookie", c), http.StatusBadRequest).errorBody(t)
			var theirs logsBody
			e.want(e.do("GET", "/api/dashboard/request-logs", nil, "Cookie", oc), http.StatusOK).json(t, &theirs)
			if len(theirs.Logs) != 1 || theirs.Logs[0].ID != foreign.ID {
				t.Fatalf("other's logs = %+v", theirs.Logs)
			}
			for _, q := range []string{"?limit=0", "?limit=201", "?limit=-1", "?limit=abc", "?before=abc", "?before=" + polydev.NewID(),
				"?before=%27%20OR%201=1--", "?limit=1&limit=2"} {
				e.want(e.do("GET", "/api/dashboard/request-logs"+q, nil, "Cookie", c), http.StatusBadRequest).errorBody(t)
			}
			e.want(e.do("GET", "/api/dashboard/request-logs?limit=200", nil, "Cookie", c), http.StatusOK)
			e.want(e.do("GET", "/api/dashboard/request-logs", nil), http.StatusUnauthorized)
		})
	}
}

func TestAdminStats(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			c := e.userWithTier("user@example.com", polydev.TierPro)
			u := mustUser(t, e, "user@example.com")
			e.userWithTier("idle@example.com", polydev.TierFree)
			admin := e.signup("admin@example.com", pw)
			e.makeAdmin("admin@example.com")
			now := time.Now().UTC()
			e.insertUsage(u, now, "openai/gpt-4o-mini", polydev.UsageOK, 10, 5, 250)
			e.insertUsage(u, now.AddDate(0, 0, -45), "openai/gpt-4o-mini", polydev.UsageOK, 1, 1, 1)

			got := e.want(e.do("GET", "/api/admin/stats", nil, "Cookie", c), http.StatusForbidden).errorBody(t)
			if got.Type != "permission_error" {
				t.Fatalf("type %q", got.Type)
			}
			e.want(e.do("GET", "/api/admin/stats", nil), http.StatusUnauthorized)

			var out struct {
				Stats        map[string]any
				VMs          map[string]int `json:"vms"`
				AuthSessions map[string]int
				Providers    []providerStatsJSON
				Events       []systemEventJSON
			}
			r := e.want(e.do("GET", "/api/admin/stats", nil, "Cookie", admin), http.StatusOK)
			r.json(t, &out)
			zero := func(m map[string]int, keys ...string) bool {
				for _, k := range keys {
					if v, ok := m[k]; !ok || v != 0 {
						return false
					}
				}
				return len(m) == len(keys)
			}
			if !zero(out.VMs, "total", "running", "stopped", "cli", "browser") || !zero(out.AuthSessions, "active", "completed", "total") ||
				out.Events == nil || len(out.Events) != 0 || len(out.Providers) != len(polydev.Providers) {
				t.Fatalf("vms/authSessions/providers/events = %s", r.body)
			}
			if p := out.Providers[0]; p.Provider != polydev.ProviderOpenAI || p.Requests != 1 || p.InputTokens != 10 || p.OutputTokens != 5 {
				t.Fatalf("providers[0] = %+v (the 45-day-old record is outside the window)", p)
			}
			want := map[string]float64{
				"total_users": 3, "active_users": 1, "total_requests": 2, "total_tokens": 17, "total_cost": 0.000251,
				"total_vms": 0, "active_vms": 0, "cli_vms": 0, "browser_vms": 0, "ip_pool_available": 0, "ip_pool_total": 0,
			}
			for k, v := range want {
				if got, ok := out.Stats[k].(float64); !ok || got != v {
					t.Fatalf("stats[%s] = %v, want %v (%s)", k, out.Stats[k], v, r.body)
				}
			}
			byTier, _ := out.Stats["users_by_tier"].(map[string]any)
			if byTier["free"] != 2.0 || byTier["pro"] != 1.0 || byTier["plus"] != 0.0 || byTier["enterprise"] != 0.0 {
				t.Fatalf("users_by_tier = %v", out.Stats["users_by_tier"])
			}
		})
	}
}
