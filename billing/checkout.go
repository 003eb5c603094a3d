package billing

import (
	"context"
	"errors"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/polydev/polydev"
)

// Metadata Polydev writes on the objects it creates at Stripe, so that events name the user and tier.
const (
	metaUser = "polydev_user_id"
	metaTier = "polydev_tier"
)

// Checkout starts a Checkout Session for u to subscribe to tier and returns the page to send them
// to. The Stripe customer is created once per user and reused. A user whose subscription is live
// changes it in the portal instead, so nobody pays twice.
func (s *Service) Checkout(ctx context.Context, u *polydev.User, tier polydev.Tier) (string, error) {
	price, ok := s.cfg.Prices[tier]
	if !ok {
		return "", polydev.Errorf(polydev.EINVALID, "tier must be one of %v (free needs no checkout: cancel in the billing portal)", s.Tiers())
	}
	cur, err := s.store.SubscriptionFor(ctx, u.ID)
	if err != nil && polydev.ErrorCode(err) != polydev.ENOTFOUND {
		return "", err
	}
	if cur != nil && cur.SubscriptionID != "" && live(cur.Status) {
		return "", polydev.Errorf(polydev.ECONFLICT, "you already have a %s subscription: change or cancel it in the billing portal (POST /api/subscription/portal)", cur.Tier)
	}
	customer, err := s.customer(ctx, u, cur)
	if err != nil {
		return "", err
	}
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:          stripe.String(customer),
		ClientReferenceID: stripe.String(u.ID),
		LineItems:         []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String(price), Quantity: stripe.Int64(1)}},
		SuccessURL:        stripe.String(s.cfg.PublicURL + "/subscription?checkout=success"),
		CancelURL:         stripe.String(s.cfg.PublicURL + "/pricing?checkout=cancelled"),
		Metadata:          map[string]string{metaUser: u.ID, metaTier: string(tier)},
		SubscriptionData: &stripe.CheckoutSessionCreateSubscriptionDataParams{
			Metadata: map[string]string{metaUser: u.ID, metaTier: string(tier)},
		},
	}
	params.Context = ctx
	cs, err := s.stripe.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return "", s.stripeError("create a checkout session", err)
	}
	s.log.Info("checkout session created", "service", "billing", "user_id", u.ID, "tier", tier, "session_id", cs.ID)
	return cs.URL, nil
}

// customer returns u's Stripe customer, creating it the first time. The idempotency key makes two
// racing first upgrades create one customer at Stripe; SetStripeCustomer keeps one in the database.
func (s *Service) customer(ctx context.Context, u *polydev.User, cur *polydev.Subscription) (string, error) {
	if cur != nil && cur.CustomerID != "" {
		return cur.CustomerID, nil
	}
	params := &stripe.CustomerCreateParams{Email: stripe.String(u.Email), Metadata: map[string]string{metaUser: u.ID}}
	params.Context = ctx
	params.SetIdempotencyKey("polydev-customer-" + u.ID)
	c, err := s.stripe.V1Customers.Create(ctx, params)
	if err != nil {
		return "", s.stripeError("create a customer", err)
	}
	return s.store.SetStripeCustomer(ctx, u.ID, c.ID, s.Now())
}

// Portal returns a Stripe customer portal link where u changes plan, payment method or cancels.
func (s *Service) Portal(ctx context.Context, u *polydev.User) (string, error) {
	cur, err := s.store.SubscriptionFor(ctx, u.ID)
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		return "", polydev.Errorf(polydev.ENOTFOUND, "you have no subscription yet: upgrade first (POST /api/subscription/upgrade)")
	}
	if err != nil {
		return "", err
	}
	params := &stripe.BillingPortalSessionCreateParams{
		Customer:  stripe.String(cur.CustomerID),
		ReturnURL: stripe.String(s.cfg.PublicURL + "/subscription"),
	}
	params.Context = ctx
	ps, err := s.stripe.V1BillingPortalSessions.Create(ctx, params)
	if err != nil {
		return "", s.stripeError("create a portal session", err)
	}
	return ps.URL, nil
}

// Invoice is one line of a user's billing history.
type Invoice struct {
	ID         string    `json:"id"`
	Number     string    `json:"number"`
	Status     string    `json:"status"`
	AmountDue  int64     `json:"amountDue"` // in the currency's smallest unit, as Stripe counts
	AmountPaid int64     `json:"amountPaid"`
	Currency   string    `json:"currency"`
	Created    time.Time `json:"created"`
	URL        string    `json:"url"` // Stripe's hosted invoice page
	PDF        string    `json:"pdf"`
}

// maxInvoices bounds one listing.
const maxInvoices = 24

// Invoices lists u's most recent invoices (none before the first upgrade).
func (s *Service) Invoices(ctx context.Context, u *polydev.User) ([]Invoice, error) {
	out := []Invoice{}
	cur, err := s.store.SubscriptionFor(ctx, u.ID)
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	params := &stripe.InvoiceListParams{Customer: stripe.String(cur.CustomerID)}
	params.Limit = stripe.Int64(maxInvoices)
	params.Context = ctx
	for in, err := range s.stripe.V1Invoices.List(ctx, params) {
		if err != nil {
			return nil, s.stripeError("list invoices", err)
		}
		out = append(out, Invoice{
			ID: in.ID, Number: in.Number, Status: string(in.Status), AmountDue: in.AmountDue, AmountPaid: in.AmountPaid,
			Currency: string(in.Currency), Created: time.Unix(in.Created, 0).UTC(), URL: in.HostedInvoiceURL, PDF: in.InvoicePDF,
		})
		if len(out) == maxInvoices {
			break
		}
	}
	return out, nil
}

// Status is what GET /api/subscription shows: the user's tier and, when there is one, the
// subscription behind it.
type Status struct {
	Tier              polydev.Tier   `json:"tier"`
	Plan              polydev.Tier   `json:"plan"`   // the subscribed tier ("" without a subscription)
	Status            string         `json:"status"` // Stripe's status; "none" without a subscription
	RenewsAt          *time.Time     `json:"renewsAt"`
	CancelAtPeriodEnd bool           `json:"cancelAtPeriodEnd"`
	GraceUntil        *time.Time     `json:"graceUntil"`
	Purchasable       []polydev.Tier `json:"purchasable"`
}

// StatusOf reads u's subscription from the database (what the webhooks left), not from Stripe.
func (s *Service) StatusOf(ctx context.Context, u *polydev.User) (*Status, error) {
	st := &Status{Tier: u.Tier, Status: "none", Purchasable: s.Tiers()}
	cur, err := s.store.SubscriptionFor(ctx, u.ID)
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if cur.Status != "" {
		st.Plan, st.Status = cur.Tier, cur.Status
	}
	st.RenewsAt, st.CancelAtPeriodEnd, st.GraceUntil = cur.CurrentPeriodEnd, cur.CancelAtPeriodEnd, cur.GraceUntil
	return st, nil
}

// stripeError turns a failed Stripe call into a 502-class answer that names no Stripe detail; the
// cause (Stripe's message and request id, never the key) is logged by the renderer.
func (s *Service) stripeError(what string, err error) error {
	if se, ok := errors.AsType[*stripe.Error](err); ok && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != 429 {
		return polydev.Wrap(polydev.EINTERNAL, err, "billing could not %s", what)
	}
	return polydev.Wrap(polydev.EUNAVAILABLE, err, "the payment provider did not answer (%s); try again shortly", what)
}
