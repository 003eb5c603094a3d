package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/polydev/polydev"
)

// Billing: subscriptions mirror signed Stripe events. The invariant a reviewer must check: an event's
// id is inserted in the same transaction that changes the subscription row and the user's tier, so
// an event is applied at most once, and a transaction that fails leaves neither behind (Stripe then
// delivers it again).

const subscriptionColumns = `user_id, customer_id, subscription_id, tier, status, current_period_end, cancel_at_period_end,
	payment_failed_at, grace_until, paid_at, state_at, updated_at`

func scanSubscription(s scanner) (*polydev.Subscription, error) {
	var sub polydev.Subscription
	var end, failed, grace, paid sql.NullInt64
	var stateAt, updated int64
	if err := s.Scan(&sub.UserID, &sub.CustomerID, &sub.SubscriptionID, &sub.Tier, &sub.Status, &end, &sub.CancelAtPeriodEnd,
		&failed, &grace, &paid, &stateAt, &updated); err != nil {
		return nil, err
	}
	sub.CurrentPeriodEnd, sub.PaymentFailedAt, sub.GraceUntil, sub.PaidAt = fromNullMS(end), fromNullMS(failed), fromNullMS(grace), fromNullMS(paid)
	sub.StateAt, sub.UpdatedAt = fromMS(stateAt), fromMS(updated)
	return &sub, nil
}

// SubscriptionFor implements polydev.BillingStore.
func (db *DB) SubscriptionFor(ctx context.Context, userID string) (*polydev.Subscription, error) {
	if !lookupable(userID) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "subscription not found")
	}
	sub, err := scanSubscription(db.queryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE user_id = ?`, userID))
	return sub, notFound(err, "subscription")
}

// SubscriptionByCustomer implements polydev.BillingStore.
func (db *DB) SubscriptionByCustomer(ctx context.Context, customerID string) (*polydev.Subscription, error) {
	if !lookupable(customerID) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "subscription not found")
	}
	sub, err := scanSubscription(db.queryRow(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE customer_id = ?`, customerID))
	return sub, notFound(err, "subscription")
}

// SetStripeCustomer implements polydev.BillingStore.
func (db *DB) SetStripeCustomer(ctx context.Context, userID, customerID string, now time.Time) (string, error) {
	if customerID == "" {
		return "", polydev.Errorf(polydev.EINVALID, "empty customer id")
	}
	var stored string
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.txExec(ctx, tx, `INSERT INTO subscriptions (user_id, customer_id, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO NOTHING`, userID, customerID, ms(now)); err != nil {
			return err
		}
		return db.txQueryRow(ctx, tx, `SELECT customer_id FROM subscriptions WHERE user_id = ?`, userID).Scan(&stored)
	})
	if db.dialect.IsUniqueViolation(err) {
		return "", polydev.Errorf(polydev.ECONFLICT, "this Stripe customer belongs to another account")
	}
	return stored, err
}

// ApplyBillingEvent implements polydev.BillingStore.
func (db *DB) ApplyBillingEvent(ctx context.Context, ev polydev.BillingEvent, userID string,
	apply func(cur *polydev.Subscription) *polydev.Subscription) (polydev.TierChange, error) {
	change := polydev.TierChange{UserID: userID}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		change.Applied = false
		res, err := db.txExec(ctx, tx, `INSERT INTO billing_events (id, type, user_id, created, received_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, ev.ID, ev.Type, userID, ms(ev.Created), ms(ev.Received))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // seen before (PostgreSQL waited for the other delivery's transaction to end)
		}
		change.Applied = true
		if userID == "" {
			return nil
		}
		// Taking the user's row first serialises two events of one user on PostgreSQL, so each
		// reads the row the other wrote (SQLite has one writer anyway).
		res, err = db.txExec(ctx, tx, `UPDATE users SET tier = tier WHERE id = ?`, userID)
		if err := affectedOne(res, err, "user"); err != nil {
			return err
		}
		if err := db.txQueryRow(ctx, tx, `SELECT tier FROM users WHERE id = ?`, userID).Scan(&change.From); err != nil {
			return err
		}
		change.To = change.From
		cur, err := scanSubscription(db.txQueryRow(ctx, tx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE user_id = ?`, userID))
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		next := apply(cur)
		if next == nil {
			return nil
		}
		next.UserID, next.UpdatedAt = userID, ev.Received
		if _, err := db.txExec(ctx, tx, `INSERT INTO subscriptions (`+subscriptionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET customer_id = excluded.customer_id, subscription_id = excluded.subscription_id,
			tier = excluded.tier, status = excluded.status, current_period_end = excluded.current_period_end,
			cancel_at_period_end = excluded.cancel_at_period_end, payment_failed_at = excluded.payment_failed_at,
			grace_until = excluded.grace_until, paid_at = excluded.paid_at, state_at = excluded.state_at, updated_at = excluded.updated_at`,
			next.UserID, next.CustomerID, next.SubscriptionID, next.Tier, next.Status, msPtr(next.CurrentPeriodEnd), next.CancelAtPeriodEnd,
			msPtr(next.PaymentFailedAt), msPtr(next.GraceUntil), msPtr(next.PaidAt), ms(next.StateAt), ms(next.UpdatedAt)); err != nil {
			return err
		}
		change.To = next.Entitled(ev.Received)
		if change.To == change.From {
			return nil
		}
		_, err = db.txExec(ctx, tx, `UPDATE users SET tier = ?, updated_at = ? WHERE id = ?`, change.To, ms(ev.Received), userID)
		return err
	})
	if db.dialect.IsUniqueViolation(err) {
		return polydev.TierChange{}, polydev.Wrap(polydev.ECONFLICT, err, "this Stripe customer belongs to another account")
	}
	return change, err
}

// GraceExpired implements polydev.BillingStore.
func (db *DB) GraceExpired(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.query(ctx, `SELECT s.user_id FROM subscriptions s JOIN users u ON u.id = s.user_id
		WHERE s.grace_until IS NOT NULL AND s.grace_until <= ? AND u.tier <> 'free' ORDER BY s.grace_until LIMIT 1000`, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ExpireGrace implements polydev.BillingStore. The one UPDATE re-checks the grace period, so an
// invoice paid between GraceExpired and this call keeps the tier.
func (db *DB) ExpireGrace(ctx context.Context, userID string, now time.Time) (polydev.TierChange, error) {
	change := polydev.TierChange{UserID: userID, To: polydev.TierFree}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		err := db.txQueryRow(ctx, tx, `SELECT tier FROM users WHERE id = ?`, userID).Scan(&change.From)
		if err != nil {
			return notFound(err, "user")
		}
		res, err := db.txExec(ctx, tx, `UPDATE users SET tier = 'free', updated_at = ? WHERE id = ? AND tier <> 'free'
			AND EXISTS (SELECT 1 FROM subscriptions WHERE user_id = ? AND grace_until IS NOT NULL AND grace_until <= ?)`,
			ms(now), userID, userID, ms(now))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		change.Applied = n == 1
		return err
	})
	if !change.Applied {
		change.To = change.From
	}
	return change, err
}
