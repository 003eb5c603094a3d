package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/polydev/polydev"
)

// statsWindowDays is how far back the dashboard looks by default (today included).
const statsWindowDays = 30

type totalsJSON struct {
	Requests     int64         `json:"requests"`
	Errors       int64         `json:"errors"`
	InputTokens  int64         `json:"inputTokens"`
	OutputTokens int64         `json:"outputTokens"`
	TotalTokens  int64         `json:"totalTokens"`
	Cost         polydev.Money `json:"cost"`
	// Unpriced counts requests of models without a price (run on the user's own key): their cost is
	// unknown, not zero.
	Unpriced int64 `json:"unpricedRequests"`
}

func toTotals(t polydev.UsageTotals) totalsJSON {
	return totalsJSON{Requests: t.Requests, Errors: t.Errors, InputTokens: t.InputTokens, OutputTokens: t.OutputTokens,
		TotalTokens: t.InputTokens + t.OutputTokens, Cost: t.Cost, Unpriced: t.Unpriced}
}

type dayJSON struct {
	Date string `json:"date"`
	totalsJSON
}

type modelJSON struct {
	Model string `json:"model"`
	totalsJSON
}

type providerJSON struct {
	Provider string `json:"provider"`
	totalsJSON
}

// dashboardStats answers GET /api/dashboard/stats?days=N: the caller's usage over the last N UTC days
// (default 30, today included), in total and by day (every day listed, zeros included), model and
// provider.
func (s *Server) dashboardStats(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	days, err := queryInt(r, "days", statsWindowDays, 1, 366)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	today := now.Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, -int(days-1))
	st, err := s.store.UsageStats(r.Context(), u.ID, since)
	if err != nil {
		return err
	}
	all := st.Days(since, today)
	byDay := make([]dayJSON, len(all))
	for i, b := range all {
		byDay[i] = dayJSON{Date: b.Key, totalsJSON: toTotals(b.UsageTotals)}
	}
	byModel := make([]modelJSON, len(st.ByModel))
	for i, b := range st.ByModel {
		byModel[i] = modelJSON{Model: b.Key, totalsJSON: toTotals(b.UsageTotals)}
	}
	byProvider := make([]providerJSON, len(st.ByProvider))
	for i, b := range st.ByProvider {
		byProvider[i] = providerJSON{Provider: b.Key, totalsJSON: toTotals(b.UsageTotals)}
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"since": since, "days": days, "totals": toTotals(st.Totals),
		"byDay": byDay, "byModel": byModel, "byProvider": byProvider,
	})
}

// Request log paging.
const (
	defaultRequestLogs = 50
	maxRequestLogs     = 200
)

// requestLogs answers GET /api/dashboard/request-logs?limit=N&before=ID: the caller's request
// metadata (never content), newest first. nextBefore, when not null, is the cursor of the next page.
func (s *Server) requestLogs(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	limit, err := queryInt(r, "limit", defaultRequestLogs, 1, maxRequestLogs)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	before := ""
	if raw, ok := q["before"]; ok {
		if len(raw) != 1 || !polydev.ValidID(strings.ToLower(raw[0])) {
			return polydev.Errorf(polydev.EINVALID, "before must be the id of a request log (the nextBefore of the previous page)")
		}
		before = strings.ToLower(raw[0])
	}
	logs, err := s.store.RequestLogs(r.Context(), u.ID, before, int(limit))
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		// The same answer for someone else's record and a made-up id: the cursor reveals nothing.
		return polydev.Errorf(polydev.EINVALID, "before is not one of your request logs")
	}
	if err != nil {
		return err
	}
	var next *string
	if len(logs) == int(limit) {
		next = &logs[len(logs)-1].ID
	}
	return writeJSON(w, http.StatusOK, map[string]any{"logs": logs, "nextBefore": next})
}
