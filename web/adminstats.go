package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/polydev/polydev"
)

// adminVMCounts is the seed's vms object: every record, the running and stopped ones, and the
// running ones by type (cli + browser = running, as in the seed's report).
type adminVMCounts struct {
	Total   int `json:"total"`
	Running int `json:"running"`
	Stopped int `json:"stopped"`
	CLI     int `json:"cli"`
	Browser int `json:"browser"`
}

// providerStatsJSON is one provider's platform keys and usage over the stats window.
type providerStatsJSON struct {
	Provider     polydev.Provider `json:"provider"`
	Keys         int              `json:"keys"`       // platform keys
	ActiveKeys   int              `json:"activeKeys"` // of which active
	Requests     int64            `json:"requests"`
	Errors       int64            `json:"errors"`
	InputTokens  int64            `json:"inputTokens"`
	OutputTokens int64            `json:"outputTokens"`
	Cost         polydev.Money    `json:"cost"`
}

// systemEventJSON is one recent event: a VM or a login session reaching its current state.
type systemEventJSON struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // "vm" or "auth_session"
	ID     string    `json:"id"`
	UserID string    `json:"userId"`
	Event  string    `json:"event"`            // the state or status reached
	Detail string    `json:"detail,omitempty"` // the VM's type, the session's provider or target host
}

// recentEvents is how many events the admin stats list.
const recentEvents = 20

// adminStats answers GET /api/admin/stats in the seed's shape: stats (users, usage, VMs, the IP
// pool), vms and authSessions as counts, then per-provider statistics and recent events (the
// latest state each VM and login session reached; there is no separate event log). cli_vms and
// browser_vms count running VMs only.
func (s *Server) adminStats(w http.ResponseWriter, r *http.Request, _ *polydev.User) error {
	ctx := r.Context()
	since := s.now().AddDate(0, 0, -statsWindowDays)
	ps, err := s.store.PlatformStats(ctx, since)
	if err != nil {
		return err
	}
	byTier := map[string]int{}
	for _, t := range polydev.Tiers {
		byTier[string(t)] = ps.UsersByTier[t]
	}
	vms, err := s.store.ListAllVMs(ctx)
	if err != nil {
		return err
	}
	vc := adminVMCounts{Total: len(vms)}
	for _, v := range vms {
		switch v.State {
		case polydev.VMRunning:
			vc.Running++
			if v.Type == polydev.VMCLI {
				vc.CLI++
			} else {
				vc.Browser++
			}
		case polydev.VMStopped:
			vc.Stopped++
		}
	}
	var pool polydev.VMPoolStats
	if s.vms != nil {
		if pool, err = s.vms.PoolStats(ctx); err != nil {
			return err
		}
	}
	sessions, err := s.store.CountAuthSessions(ctx)
	if err != nil {
		return err
	}
	providers, err := s.providerStats(r, since)
	if err != nil {
		return err
	}
	events, err := s.recentEvents(r, vms)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"stats": map[string]any{
			"total_users": ps.TotalUsers, "active_users": ps.ActiveUsers, "users_by_tier": byTier,
			"total_requests": ps.TotalRequests, "total_tokens": ps.TotalTokens, "total_cost": ps.TotalCost,
			"unpriced_requests": ps.Unpriced,
			"total_vms":         vc.Total, "active_vms": vc.Running, "cli_vms": vc.CLI, "browser_vms": vc.Browser,
			"ip_pool_available": pool.Available, "ip_pool_total": pool.Total,
		},
		"vms":          vc,
		"authSessions": sessions,
		"providers":    providers,
		"events":       events,
	})
}

// providerStats lists every provider with its platform keys and its usage since the window start.
func (s *Server) providerStats(r *http.Request, since time.Time) ([]providerStatsJSON, error) {
	keys, err := s.store.ListProviderKeys(r.Context(), "")
	if err != nil {
		return nil, err
	}
	usage, err := s.store.PlatformUsage(r.Context(), since)
	if err != nil {
		return nil, err
	}
	out := make([]providerStatsJSON, len(polydev.Providers))
	at := map[polydev.Provider]int{}
	for i, p := range polydev.Providers {
		out[i].Provider, at[p] = p, i
	}
	for _, k := range keys {
		if i, ok := at[k.Provider]; ok {
			out[i].Keys++
			if k.Active {
				out[i].ActiveKeys++
			}
		}
	}
	for _, b := range usage.ByProvider {
		if i, ok := at[polydev.Provider(b.Key)]; ok {
			o := &out[i]
			o.Requests, o.Errors, o.InputTokens, o.OutputTokens, o.Cost = b.Requests, b.Errors, b.InputTokens, b.OutputTokens, b.Cost
		}
	}
	return out, nil
}

// recentEvents merges the latest changes of VMs and login sessions, newest first.
func (s *Server) recentEvents(r *http.Request, vms []*polydev.VM) ([]systemEventJSON, error) {
	sessions, err := s.store.RecentAuthSessions(r.Context(), recentEvents)
	if err != nil {
		return nil, err
	}
	out := make([]systemEventJSON, 0, len(vms)+len(sessions))
	for _, v := range vms {
		out = append(out, systemEventJSON{At: v.UpdatedAt, Kind: "vm", ID: v.ID, UserID: v.UserID, Event: string(v.State), Detail: string(v.Type)})
	}
	for _, a := range sessions {
		detail := string(a.Provider)
		if detail == "" {
			detail = hostOf(a.TargetURL)
		}
		out = append(out, systemEventJSON{At: a.UpdatedAt, Kind: "auth_session", ID: a.ID, UserID: a.UserID, Event: string(a.Status), Detail: detail})
	}
	slices.SortFunc(out, func(a, b systemEventJSON) int { return cmp.Or(b.At.Compare(a.At), cmp.Compare(a.ID, b.ID)) })
	return out[:min(len(out), recentEvents)], nil
}

// hostOf is a target URL's host: events name the site, not the URL with its OAuth parameters.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
