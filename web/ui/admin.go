package ui

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
	"github.com/polydev/polydev/pricing"
)

// The admin pages read through the same services as /api/admin/* and change things through those
// routes (the forms declare the calls), so an administrator in the browser and one with curl meet
// the same rules.

// adminTabs is the admin section's own navigation, below the top bar.
var adminTabs = []navItem{
	{"admin", "Overview", "/admin"},
	{"admin-providers", "Providers", "/admin/providers"},
	{"admin-pricing", "Pricing", "/admin/pricing"},
	{"admin-tiers", "Tier limits", "/admin/tiers"},
	{"admin-users", "Users", "/admin/users"},
}

// adminPage is what every admin template receives: its tab and its own data.
type adminPage struct {
	Tabs []navItem
	Tab  string
	Page any
}

func (u *UI) renderAdmin(w http.ResponseWriter, r *http.Request, v *view, name, title, tab string, data any) error {
	v.Title, v.Nav, v.Data = title, "admin", &adminPage{Tabs: adminTabs, Tab: tab, Page: data}
	return u.render(w, r, name, v)
}

type adminOverview struct {
	usageView
	Stats *polydev.PlatformStats
	Tiers []tierCount
	VMs   polydev.VMCounts
	// RunningCLI and RunningBrowser count running VMs by type (the API's cli_vms, browser_vms).
	RunningCLI, RunningBrowser int
	VMsOn                      bool
	Pool                       polydev.VMPoolStats
	Logins                     polydev.AuthSessionCounts
}

type tierCount struct {
	Tier  polydev.Tier
	Users int
}

// adminHome is the system overview: users, usage over the last 30 days with charts, VMs.
func (u *UI) adminHome(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	today := u.api.Now().UTC().Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, -(dashboardDays - 1))
	ps, err := u.api.Store.PlatformStats(ctx, since)
	if err != nil {
		return err
	}
	st, err := u.api.Store.PlatformUsage(ctx, since)
	if err != nil {
		return err
	}
	d := &adminOverview{usageView: newUsageView(st, since, today, "all users"), Stats: ps, VMsOn: u.api.VMs != nil}
	for _, t := range polydev.Tiers {
		d.Tiers = append(d.Tiers, tierCount{t, ps.UsersByTier[t]})
	}
	vc, err := u.api.Store.CountVMs(ctx)
	if err != nil {
		return err
	}
	d.VMs = *vc
	all, err := u.api.Store.ListAllVMs(ctx)
	if err != nil {
		return err
	}
	for _, vm := range all {
		if vm.State == polydev.VMRunning && vm.Type == polydev.VMCLI {
			d.RunningCLI++
		} else if vm.State == polydev.VMRunning {
			d.RunningBrowser++
		}
	}
	lc, err := u.api.Store.CountAuthSessions(ctx)
	if err != nil {
		return err
	}
	d.Logins = *lc
	if u.api.VMs != nil {
		if d.Pool, err = u.api.VMs.PoolStats(ctx); err != nil {
			return err
		}
	}
	return u.renderAdmin(w, r, v, "admin", "Admin", "admin", d)
}

// adminProviders lists the platform keys in the order they are tried.
func (u *UI) adminProviders(w http.ResponseWriter, r *http.Request, v *view) error {
	keys, err := u.api.Store.ListProviderKeys(r.Context(), "")
	if err != nil {
		return err
	}
	slices.SortStableFunc(keys, func(a, b *polydev.ProviderKey) int { return int(a.Priority - b.Priority) })
	d := &securityData{AddAPI: "/api/admin/providers", AddAction: "add_key", Providers: polydev.Providers, Keys: u.keyRows(r.Context(), keys)}
	for _, k := range keys {
		d.NextOrder = max(d.NextOrder, k.Priority+1)
	}
	v.Script = "reorder.js"
	return u.renderAdmin(w, r, v, "admin_providers", "Providers", "admin-providers", d)
}

type adminPricingData struct {
	Entries   []pricing.Entry
	Overrides int
}

// adminPricing shows the effective price table, overrides first.
func (u *UI) adminPricing(w http.ResponseWriter, r *http.Request, v *view) error {
	es, err := u.api.Prices.Entries(r.Context())
	if err != nil {
		return err
	}
	d := &adminPricingData{}
	for _, e := range es {
		if e.Source == pricing.SourceOverride {
			d.Overrides++
		}
	}
	slices.SortStableFunc(es, func(a, b pricing.Entry) int {
		return boolRank(a.Source == pricing.SourceOverride) - boolRank(b.Source == pricing.SourceOverride)
	})
	d.Entries = es
	return u.renderAdmin(w, r, v, "admin_pricing", "Pricing", "admin-pricing", d)
}

func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}

type adminTiersData struct {
	Limits    []*polydev.TierLimits
	BYOK      []polydev.BYOKRule
	Ephemeral []polydev.EphemeralRule
}

func (u *UI) adminTiers(w http.ResponseWriter, r *http.Request, v *view) error {
	ls, err := u.api.Store.ListTierLimits(r.Context())
	if err != nil {
		return err
	}
	d := &adminTiersData{Limits: ls,
		BYOK:      []polydev.BYOKRule{polydev.BYOKUnavailable, polydev.BYOKAvailable, polydev.BYOKRequired},
		Ephemeral: []polydev.EphemeralRule{polydev.EphemeralUnavailable, polydev.EphemeralOptIn, polydev.EphemeralDefaultOn, polydev.EphemeralForced},
	}
	return u.renderAdmin(w, r, v, "admin_tiers", "Tier limits", "admin-tiers", d)
}

// usersPage is how many users the admin list shows at once (the API's default page too).
const usersPage = 50

type adminUsersData struct {
	Users  []*polydev.User
	Search string
	Next   string // the After of the next page; "" on the last
	Tiers  []polydev.Tier
	Self   string
}

func (u *UI) adminUsers(w http.ResponseWriter, r *http.Request, v *view) error {
	q := polydev.UserQuery{Search: strings.TrimSpace(r.URL.Query().Get("q")), After: r.URL.Query().Get("after"), Limit: usersPage}
	if len(q.Search) > auth.MaxEmailLen || len(q.After) > auth.MaxEmailLen {
		return polydev.Errorf(polydev.EINVALID, "the search is too long")
	}
	users, err := u.api.Store.ListUsers(r.Context(), q)
	if err != nil {
		return err
	}
	d := &adminUsersData{Users: users, Search: q.Search, Tiers: polydev.Tiers, Self: v.User.ID}
	if len(users) == usersPage {
		d.Next = users[len(users)-1].Email
	}
	return u.renderAdmin(w, r, v, "admin_users", "Users", "admin-users", d)
}
