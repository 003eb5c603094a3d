package billing

import (
	"context"
	"encoding/json"

	"github.com/polydev/polydev"
)

// Event types Polydev acts on. Everything else is acknowledged and ignored, so that an endpoint
// subscribed to more events than this never makes Stripe retry.
const (
	evCheckoutCompleted = "checkout.session.completed"
	evSubCreated        = "customer.subscription.created"
	evSubUpdated        = "customer.subscription.updated"
	evSubDeleted        = "customer.subscription.deleted"
	evInvoicePaid       = "invoice.paid"
	evInvoiceFailed     = "invoice.payment_failed"
	evChargeRefunded    = "charge.refunded"
	evDisputeCreated    = "charge.dispute.created"
)

// Webhook verifies and applies one delivery. A bad signature is EINVALID and changes nothing; an
// event seen before is acknowledged without effect. Errors other than EINVALID make Stripe deliver
// the event again later, which is safe: its id was not recorded.
func (s *Service) Webhook(ctx context.Context, payload []byte, signature string) (polydev.TierChange, error) {
	now := s.Now()
	if err := VerifySignature(payload, signature, s.cfg.WebhookSecret, now, s.cfg.Tolerance); err != nil {
		return polydev.TierChange{}, err
	}
	var ev event
	if err := json.Unmarshal(payload, &ev); err != nil || ev.ID == "" || ev.Type == "" || ev.Created <= 0 {
		return polydev.TierChange{}, polydev.Errorf(polydev.EINVALID, "the body is not a Stripe event")
	}
	be := polydev.BillingEvent{ID: ev.ID, Type: ev.Type, Created: ev.created(), Received: now}
	var (
		userID string
		apply  func(*polydev.Subscription) *polydev.Subscription
		err    error
	)
	switch ev.Type {
	case evCheckoutCompleted:
		userID, apply, err = s.onCheckout(ctx, &ev)
	case evSubCreated, evSubUpdated, evSubDeleted:
		userID, apply, err = s.onSubscription(ctx, &ev)
	case evInvoicePaid, evInvoiceFailed:
		userID, apply, err = s.onInvoice(ctx, &ev)
	case evChargeRefunded, evDisputeCreated:
		userID, apply, err = s.onCharge(ctx, &ev)
	default:
		s.log.Debug("stripe event ignored", "service", "billing", "event_id", ev.ID, "type", ev.Type)
		return polydev.TierChange{}, nil
	}
	if err != nil {
		return polydev.TierChange{}, err
	}
	if apply == nil {
		apply = func(*polydev.Subscription) *polydev.Subscription { return nil }
	}
	ch, err := s.store.ApplyBillingEvent(ctx, be, userID, apply)
	if err != nil {
		return ch, err
	}
	switch {
	case !ch.Applied:
		s.log.Info("stripe event already applied", "service", "billing", "event_id", ev.ID, "type", ev.Type)
	case userID == "":
		s.log.Warn("stripe event for no known user", "service", "billing", "event_id", ev.ID, "type", ev.Type)
	default:
		s.log.Info("stripe event applied", "service", "billing", "event_id", ev.ID, "type", ev.Type, "user_id", userID,
			"tier_from", ch.From, "tier_to", ch.To)
	}
	return ch, nil
}

func decodeObject[T any](ev *event) (*T, error) {
	var o T
	if err := json.Unmarshal(ev.Data.Object, &o); err != nil {
		return nil, polydev.Errorf(polydev.EINVALID, "the %s event's object does not decode", ev.Type)
	}
	return &o, nil
}

// userFor finds the Polydev user of a Stripe customer ("" when none is known here: an event of
// another integration on the same Stripe account). A metadata id is used only when it names a
// real user, and only when the customer is not recorded yet.
func (s *Service) userFor(ctx context.Context, customer string, metadataUser string) (string, error) {
	if customer != "" {
		sub, err := s.store.SubscriptionByCustomer(ctx, customer)
		if err == nil {
			return sub.UserID, nil
		}
		if polydev.ErrorCode(err) != polydev.ENOTFOUND {
			return "", err
		}
	}
	if metadataUser != "" && polydev.ValidID(metadataUser) {
		u, err := s.store.UserByID(ctx, metadataUser)
		if err == nil {
			return u.ID, nil
		}
		if polydev.ErrorCode(err) != polydev.ENOTFOUND {
			return "", err
		}
	}
	return "", nil
}

// base returns the row an apply function starts from: a copy of cur, or a new row of customer.
func base(cur *polydev.Subscription, customer string) *polydev.Subscription {
	if cur == nil {
		return &polydev.Subscription{CustomerID: customer}
	}
	next := *cur
	if customer != "" {
		next.CustomerID = customer
	}
	return &next
}

// onCheckout: a paid Checkout session starts the subscription on the tier it was created for (the
// session's metadata, which only this server's secret key can have written).
func (s *Service) onCheckout(ctx context.Context, ev *event) (string, func(*polydev.Subscription) *polydev.Subscription, error) {
	cs, err := decodeObject[checkoutSession](ev)
	if err != nil {
		return "", nil, err
	}
	if cs.Mode != "subscription" {
		return "", nil, nil
	}
	userID, err := s.userFor(ctx, string(cs.Customer), cs.ClientReferenceID)
	if err != nil || userID == "" {
		return "", nil, err
	}
	tier := polydev.Tier(cs.Metadata[metaTier])
	if _, ok := s.cfg.Prices[tier]; !ok {
		s.log.Warn("checkout session without a known tier", "service", "billing", "event_id", ev.ID, "session_id", cs.ID)
		return userID, nil, nil
	}
	at := ev.created()
	return userID, func(cur *polydev.Subscription) *polydev.Subscription {
		if cur != nil && at.Before(cur.StateAt) {
			return nil // a newer subscription event has spoken already
		}
		next := base(cur, string(cs.Customer))
		next.SubscriptionID, next.Tier, next.StateAt = string(cs.Subscription), tier, at
		next.Status = "incomplete"
		if cs.PaymentStatus == "paid" || cs.PaymentStatus == "no_payment_required" {
			next.Status = "active"
		}
		return next
	}, nil
}

// onSubscription mirrors a subscription's state, unless a newer event already did (events can
// arrive out of order: each carries its `created` time, and the newest wins; of two from the same
// second, the later delivered). The tier comes from the subscription's price.
func (s *Service) onSubscription(ctx context.Context, ev *event) (string, func(*polydev.Subscription) *polydev.Subscription, error) {
	so, err := decodeObject[subscriptionObject](ev)
	if err != nil {
		return "", nil, err
	}
	userID, err := s.userFor(ctx, string(so.Customer), so.Metadata[metaUser])
	if err != nil || userID == "" {
		return "", nil, err
	}
	var tier polydev.Tier
	for _, it := range so.Items.Data {
		if t, ok := s.cfg.tierOf(it.Price.ID); ok && tierRank(t) > tierRank(tier) {
			tier = t
		}
	}
	if tier == "" {
		s.log.Warn("subscription without a configured price: it grants no tier", "service", "billing", "event_id", ev.ID, "subscription_id", so.ID)
	}
	status := so.Status
	if ev.Type == evSubDeleted {
		status = "canceled"
	}
	at := ev.created()
	return userID, func(cur *polydev.Subscription) *polydev.Subscription {
		if cur != nil && at.Before(cur.StateAt) {
			return nil
		}
		// The end of a subscription the user has since replaced does not end the new one.
		if cur != nil && cur.SubscriptionID != "" && cur.SubscriptionID != so.ID && !live(status) {
			return nil
		}
		next := base(cur, string(so.Customer))
		next.SubscriptionID, next.Tier, next.Status, next.StateAt = so.ID, tier, status, at
		next.CurrentPeriodEnd, next.CancelAtPeriodEnd = so.periodEnd(), so.CancelAtPeriodEnd || so.CancelAt > 0
		if !live(status) {
			next.PaymentFailedAt, next.GraceUntil = nil, nil
		}
		return next
	}, nil
}

// onInvoice: a failed payment opens the grace period (the tier stays until it ends, then drops to
// free: GraceExpirer); a paid invoice newer than the failure closes it.
func (s *Service) onInvoice(ctx context.Context, ev *event) (string, func(*polydev.Subscription) *polydev.Subscription, error) {
	in, err := decodeObject[invoiceObject](ev)
	if err != nil {
		return "", nil, err
	}
	userID, err := s.userFor(ctx, string(in.Customer), "")
	if err != nil || userID == "" {
		return "", nil, err
	}
	at, grace := ev.created(), s.cfg.Grace
	return userID, func(cur *polydev.Subscription) *polydev.Subscription {
		if cur == nil || cur.SubscriptionID == "" || in.subscription() != "" && in.subscription() != cur.SubscriptionID {
			return nil // not the invoice of the subscription this user has
		}
		next := base(cur, "")
		if ev.Type == evInvoiceFailed {
			if next.PaymentFailedAt != nil {
				return nil // the grace period runs from the first failure
			}
			if next.PaidAt != nil && !at.After(*next.PaidAt) {
				return nil // a failure the newer payment already settled (delivered late)
			}
			until := at.Add(grace)
			next.PaymentFailedAt, next.GraceUntil = &at, &until
			if next.Status == "active" || next.Status == "trialing" {
				next.Status = "past_due"
			}
			return next
		}
		if next.PaymentFailedAt != nil && at.Before(*next.PaymentFailedAt) {
			return nil // paid before the failure it would close
		}
		next.PaymentFailedAt, next.GraceUntil = nil, nil
		if next.PaidAt == nil || at.After(*next.PaidAt) {
			next.PaidAt = &at
		}
		if next.Status == "past_due" || next.Status == "unpaid" || next.Status == "incomplete" {
			next.Status = "active"
		}
		return next
	}, nil
}

// onCharge logs refunds and disputes for the operator; neither changes a tier (Stripe follows a
// lost dispute or a refund-and-cancel with subscription events, which do).
func (s *Service) onCharge(ctx context.Context, ev *event) (string, func(*polydev.Subscription) *polydev.Subscription, error) {
	ch, err := decodeObject[chargeObject](ev)
	if err != nil {
		return "", nil, err
	}
	userID, err := s.userFor(ctx, string(ch.Customer), "")
	if err != nil {
		return "", nil, err
	}
	s.log.Warn("stripe "+ev.Type, "service", "billing", "event_id", ev.ID, "object_id", ch.ID, "charge_id", string(ch.Charge),
		"user_id", userID, "amount", ch.Amount, "amount_refunded", ch.AmountRefunded, "currency", ch.Currency, "reason", ch.Reason)
	return userID, nil, nil
}

// live reports whether a subscription status may still grant its tier.
func live(status string) bool {
	return status == "active" || status == "trialing" || status == "past_due"
}

func tierRank(t polydev.Tier) int {
	for i, v := range polydev.Tiers {
		if v == t {
			return i + 1
		}
	}
	return 0
}
