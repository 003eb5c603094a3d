package ui

import (
	"net/http"
	"slices"

	"github.com/polydev/polydev"
)

func (u *UI) home(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "", "home"
	return u.render(w, r, "home", v)
}

// tierRow is one tier of the pricing table, as the tier table in force has it.
type tierRow struct {
	*polydev.TierLimits
	Current bool
	Buy     bool // a signed-in user may upgrade to it through checkout here
}

func (u *UI) pricing(w http.ResponseWriter, r *http.Request, v *view) error {
	tiers, err := u.api.Store.ListTierLimits(r.Context())
	if err != nil {
		return err
	}
	var buy []polydev.Tier
	if v.User != nil && u.api.Billing != nil {
		buy = upgradesFor(v.User.Tier, u.api.Billing.Tiers())
	}
	rows := make([]tierRow, len(tiers))
	for i, t := range tiers {
		rows[i] = tierRow{TierLimits: t, Current: v.User != nil && v.User.Tier == t.Tier, Buy: slices.Contains(buy, t.Tier)}
	}
	v.Title, v.Nav, v.Data = "Pricing", "pricing", rows
	return u.render(w, r, "pricing", v)
}

// authForm is what the sign-up and log-in pages need: where to go after, and whether sign-up is open.
type authForm struct {
	Next           string
	SignupDisabled bool
	MinPassword    int
	MailOn         bool // sign-up answers "check your email"; log-in offers a password reset
}

func (u *UI) signup(w http.ResponseWriter, r *http.Request, v *view) error {
	if v.User != nil {
		http.Redirect(w, r, "/dashboard", http.StatusSeeOther)
		return nil
	}
	v.Title, v.Nav = "Sign up", "signup"
	v.Data = authForm{Next: "/dashboard", SignupDisabled: u.api.SignupDisabled, MinPassword: polydev.MinPasswordLen, MailOn: u.api.MailOn}
	return u.render(w, r, "signup", v)
}

func (u *UI) login(w http.ResponseWriter, r *http.Request, v *view) error {
	next := localPath(r.URL.Query().Get("next"), "/dashboard")
	if v.User != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	v.Title, v.Nav = "Log in", "login"
	v.Data = authForm{Next: next, SignupDisabled: u.api.SignupDisabled, MailOn: u.api.MailOn}
	return u.render(w, r, "login", v)
}
