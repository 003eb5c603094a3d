package ui

import (
	"net/http"
	"slices"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/billing"
)

type subscriptionData struct {
	On       bool // billing is configured
	Status   *billing.Status
	Upgrades []polydev.Tier // tiers above the user's that can be bought here
	Invoices []billing.Invoice
	// InvoiceError is shown instead of the list when Stripe could not be asked (the rest of the
	// page comes from our database and still shows).
	InvoiceError string
}

// subscription is the plan page: the tier, the subscription behind it (status, renewal, grace),
// upgrades into Stripe Checkout, the customer portal to change or cancel, and the invoices.
func (u *UI) subscription(w http.ResponseWriter, r *http.Request, v *view) error {
	d := &subscriptionData{On: u.api.Billing != nil}
	if d.On {
		ctx, user := r.Context(), v.User
		st, err := u.api.Billing.StatusOf(ctx, user)
		if err != nil {
			return err
		}
		d.Status, d.Upgrades = st, upgradesFor(user.Tier, st.Purchasable)
		if st.Status != "none" {
			if d.Invoices, err = u.api.Billing.Invoices(ctx, user); err != nil {
				u.api.Log.Warn("invoices for the plan page", "user_id", user.ID, "err", err)
				d.InvoiceError = polydev.ErrorMessage(err)
			}
		}
	}
	v.Title, v.Nav, v.Data = "Plan", "subscription", d
	return u.render(w, r, "subscription", v)
}

// upgradesFor lists the purchasable tiers above current, lowest first.
func upgradesFor(current polydev.Tier, purchasable []polydev.Tier) []polydev.Tier {
	rank := slices.Index(polydev.Tiers, current)
	var out []polydev.Tier
	for _, t := range purchasable {
		if slices.Index(polydev.Tiers, t) > rank {
			out = append(out, t)
		}
	}
	return out
}
