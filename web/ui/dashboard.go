package ui

import (
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/conversations"
	"github.com/polydev/polydev/policy"
)

// dashboardDays is how far back the dashboard's charts look (today included), as the API's default.
const dashboardDays = 30

type dashboardData struct {
	Totals     polydev.UsageTotals
	Tokens     chart
	Requests   chart
	Cost       chart
	ByModel    breakdown
	ByProvider breakdown
	Recent     []conversations.Summary
	VMs        []*polydev.VM
	VMsOn      bool
	Limits     *polydev.TierLimits
	Keys       keyStatus
	Ephemeral  policy.Ephemeral
}

// keyStatus summarises the user's own provider keys.
type keyStatus struct {
	Total, Active, Available int
	Providers                []polydev.Provider
}

func (u *UI) dashboard(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx, user := r.Context(), v.User
	now := u.api.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, -(dashboardDays - 1))
	st, err := u.api.Store.UsageStats(ctx, user.ID, since)
	if err != nil {
		return err
	}
	days := st.Days(since, today)
	d := &dashboardData{
		Totals: st.Totals,
		Tokens: dayChart("tokens", "Tokens per day", days, num,
			series{"b1", "input", func(t polydev.UsageTotals) int64 { return t.InputTokens }},
			series{"b2", "output", func(t polydev.UsageTotals) int64 { return t.OutputTokens }}),
		Requests: dayChart("requests", "Requests per day", days, num,
			series{"b1", "requests", func(t polydev.UsageTotals) int64 { return t.Requests }}),
		Cost: dayChart("cost", "Cost per day", days, func(m int64) string { return money(polydev.Money(m)) },
			series{"b3", "cost", func(t polydev.UsageTotals) int64 { return int64(t.Cost) }}),
		ByModel:    breakdown{Name: "Model", Rows: shares(st.ByModel)},
		ByProvider: breakdown{Name: "Provider", Rows: shares(st.ByProvider)},
		VMsOn:      u.api.VMs != nil,
	}
	if u.api.Convs != nil {
		if d.Recent, err = u.api.Convs.List(ctx, user.ID, 5); err != nil {
			return err
		}
	}
	vms, err := u.api.Store.ListVMs(ctx, user.ID)
	if err != nil {
		return err
	}
	for _, vm := range vms {
		if vm.State != polydev.VMDeleted && vm.State != polydev.VMStopped && vm.State != polydev.VMFailed {
			d.VMs = append(d.VMs, vm)
		}
	}
	if d.Limits, err = u.api.Store.TierLimitsFor(ctx, user.Tier); err != nil {
		return err
	}
	set, err := u.api.Store.UserSettings(ctx, user.ID)
	if err != nil {
		return err
	}
	d.Ephemeral = policy.ResolveEphemeral(d.Limits.Ephemeral, set.EphemeralMode)
	keys, err := u.api.Store.ListProviderKeys(ctx, user.ID)
	if err != nil {
		return err
	}
	seen := map[polydev.Provider]bool{}
	for _, k := range keys {
		d.Keys.Total++
		if k.Active {
			d.Keys.Active++
		}
		if k.Available(now) {
			d.Keys.Available++
		}
		if !seen[k.Provider] {
			seen[k.Provider] = true
			d.Keys.Providers = append(d.Keys.Providers, k.Provider)
		}
	}
	v.Title, v.Nav, v.Data = "Dashboard", "dashboard", d
	return u.render(w, r, "dashboard", v)
}
