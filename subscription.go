package polydev

import (
	"context"
	"time"
)

// Subscription is a user's paid plan as the payment provider (Stripe) last reported it. Polydev never
// decides that someone paid: the row only mirrors signed webhook events, and the user's tier follows
// from it (Entitled). Users without a row have the tier an administrator gave them.
type Subscription struct {
	UserID         string `json:"-"`
	CustomerID     string `json:"-"` // Stripe customer (cus_...), created on the first upgrade
	SubscriptionID string `json:"-"` // Stripe subscription (sub_...); "" until checkout completes
	// Tier is what the plan pays for; the user has it while Entitled says so.
	Tier Tier `json:"tier"`
	// Status is Stripe's subscription status (active, trialing, past_due, canceled, unpaid,
	// incomplete, incomplete_expired, paused); "" before any subscription exists.
	Status            string     `json:"status"`
	CurrentPeriodEnd  *time.Time `json:"renewsAt"`
	CancelAtPeriodEnd bool       `json:"cancelAtPeriodEnd"`
	// PaymentFailedAt is the `created` time of the invoice.payment_failed event that opened the grace
	// period; GraceUntil is when the tier drops unless an invoice is paid first.
	PaymentFailedAt *time.Time `json:"paymentFailedAt"`
	GraceUntil      *time.Time `json:"graceUntil"`
	// PaidAt is the `created` time of the newest invoice.paid applied: a payment failure older than
	// it opens no grace period.
	PaidAt *time.Time `json:"-"`
	// StateAt is the `created` time of the newest subscription-state event applied: older events
	// arriving late change nothing.
	StateAt   time.Time `json:"-"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Entitled is the tier the subscription grants at now: the plan's tier while the subscription is
// active, trialing or past due within its grace period; free otherwise.
func (s *Subscription) Entitled(now time.Time) Tier {
	switch s.Status {
	case "active", "trialing", "past_due":
	default:
		return TierFree
	}
	if s.GraceUntil != nil && !now.Before(*s.GraceUntil) {
		return TierFree
	}
	if !s.Tier.Valid() {
		return TierFree
	}
	return s.Tier
}

// BillingEvent identifies one webhook event: Stripe's id (evt_...), its type and its `created` time.
type BillingEvent struct {
	ID      string
	Type    string
	Created time.Time
	// Received is when this server took the event; the tier written is Entitled(Received).
	Received time.Time
}

// TierChange is what applying a billing event did to a user's tier.
type TierChange struct {
	Applied  bool // false: the event id was recorded before, nothing was done
	UserID   string
	From, To Tier
}

// BillingStore persists subscriptions and the ids of applied webhook events.
type BillingStore interface {
	// SubscriptionFor returns the user's subscription row; ENOTFOUND when there is none.
	SubscriptionFor(ctx context.Context, userID string) (*Subscription, error)
	// SubscriptionByCustomer finds the row of a Stripe customer; ENOTFOUND when none.
	SubscriptionByCustomer(ctx context.Context, customerID string) (*Subscription, error)
	// SetStripeCustomer records customerID for the user unless one is recorded already, and returns
	// the one that is recorded (so two racing upgrades end up using one customer).
	SetStripeCustomer(ctx context.Context, userID, customerID string, now time.Time) (string, error)
	// ApplyBillingEvent records ev.ID and, in the same transaction, applies the event to userID's
	// subscription: apply gets a copy of the current row (nil if none) and returns the row to store
	// (nil: no change); the user's tier becomes the new row's Entitled(ev.Received). An event id
	// seen before changes nothing (Applied false). userID "" records the event only. Concurrent
	// events of one user are serialised.
	ApplyBillingEvent(ctx context.Context, ev BillingEvent, userID string, apply func(cur *Subscription) *Subscription) (TierChange, error)
	// GraceExpired lists users whose grace period ended at or before now and who still have a paid tier.
	GraceExpired(ctx context.Context, now time.Time) ([]string, error)
	// ExpireGrace drops the user to free if their grace period still ended at or before now (an
	// invoice paid meanwhile wins); reports whether it did.
	ExpireGrace(ctx context.Context, userID string, now time.Time) (TierChange, error)
}
