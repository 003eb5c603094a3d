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
	usageView
	Recent    []conversations.Summary
	VMs       []*polydev.VM
	VMsOn     bool
	Logins    []*polydev.AuthSession // sign-ins in progress
	Limits    *polydev.TierLimits
	Keys      keyStatus
	Ephemeral policy.Ephemeral
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
	d := &dashboardData{usageView: newUsageView(st, since, today, ""), VMsOn: u.api.VMs != nil}
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
	if d.Logins, err = u.activeLogins(r, user.ID); err != nil {
		return err
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
