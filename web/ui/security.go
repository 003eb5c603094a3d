package ui

import (
	"context"
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/policy"
)

type securityData struct {
	Limits     *polydev.TierLimits
	Settings   *polydev.UserSettings
	Ephemeral  policy.Ephemeral
	Keys       []keyRow
	BYOK       bool // the tier allows own keys
	HasKey     bool // an active key of the user's own
	DataKey    *polydev.DataKey
	Providers  []polydev.Provider
	NextOrder  int64
	AddAPI     string // where the add-key form posts
	AddAction  string // the admin action it names ("" for a user's own key)
	Encryption string
}

// keyRow is a provider key as the page shows it: settings, preview and usage, never the key.
type keyRow struct {
	*polydev.ProviderKey
	Available    bool
	Unreadable   bool // the stored key no longer decrypts (tampered, moved, or its data key retired)
	MonthSpend   polydev.Money
	RequestsDay  int64
	BudgetDollar string
}

// keyRows shows keys as rows, each checked for whether it still decrypts (as the API's listing does:
// one AES-GCM open per key with the data key cached; the plaintext is dropped at once).
func (u *UI) keyRows(ctx context.Context, keys []*polydev.ProviderKey) []keyRow {
	now := u.api.Now()
	rows := make([]keyRow, len(keys))
	for i, k := range keys {
		rows[i] = keyRow{ProviderKey: k, Available: k.Available(now), MonthSpend: k.Usage.SpendThisMonth(now), RequestsDay: k.Usage.RequestsToday(now)}
		if k.MonthlyBudget != nil {
			rows[i].BudgetDollar = trimDollars(*k.MonthlyBudget)
		}
		if u.api.Keys != nil {
			if _, err := u.api.Keys.Secret(ctx, k); err != nil {
				rows[i].Unreadable, rows[i].Available = true, false
			}
		}
	}
	return rows
}

func (u *UI) security(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx, user := r.Context(), v.User
	d := &securityData{AddAPI: "/api/api-keys", Providers: []polydev.Provider{polydev.ProviderOpenAI, polydev.ProviderAnthropic, polydev.ProviderGemini, polydev.ProviderOpenAICompatible}}
	var err error
	if d.Limits, err = u.api.Store.TierLimitsFor(ctx, user.Tier); err != nil {
		return err
	}
	if d.Settings, err = u.api.Store.UserSettings(ctx, user.ID); err != nil {
		return err
	}
	d.Ephemeral = policy.ResolveEphemeral(d.Limits.Ephemeral, d.Settings.EphemeralMode)
	d.BYOK = d.Limits.BYOK != polydev.BYOKUnavailable
	keys, err := u.api.Store.ListProviderKeys(ctx, user.ID)
	if err != nil {
		return err
	}
	d.Keys = u.keyRows(ctx, keys)
	for _, k := range keys {
		d.HasKey = d.HasKey || k.Active
		d.NextOrder = max(d.NextOrder, k.Priority+1)
	}
	dk, err := u.api.Store.DataKey(ctx, user.ID)
	switch {
	case err == nil:
		d.DataKey = dk
	case polydev.ErrorCode(err) != polydev.ENOTFOUND:
		return err
	}
	v.Title, v.Nav, v.Data = "Security", "security", d
	return u.render(w, r, "security", v)
}
