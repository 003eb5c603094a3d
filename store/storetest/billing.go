package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func billingEvent(id string, created time.Time) polydev.BillingEvent {
	return polydev.BillingEvent{ID: id, Type: "customer.subscription.updated", Created: created, Received: created}
}

// setPlan returns an apply function that puts the subscription on tier with status.
func setPlan(customer string, tier polydev.Tier, status string, at time.Time) func(*polydev.Subscription) *polydev.Subscription {
	return func(cur *polydev.Subscription) *polydev.Subscription {
		next := &polydev.Subscription{CustomerID: customer}
		if cur != nil {
			next = cur
		}
		next.SubscriptionID, next.Tier, next.Status, next.StateAt = "sub_1", tier, status, at
		return next
	}
}

func testSubscriptions(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	_, err := s.SubscriptionFor(ctx(t), u.ID)
	mustCode(t, err, polydev.ENOTFOUND)

	got, err := s.SetStripeCustomer(ctx(t), u.ID, "cus_A", now)
	must(t, err)
	// A second, racing customer is not recorded: the first one stays.
	again, err := s.SetStripeCustomer(ctx(t), u.ID, "cus_B", now)
	must(t, err)
	if got != "cus_A" || again != "cus_A" {
		t.Fatalf("SetStripeCustomer = %q then %q, want cus_A twice", got, again)
	}
	other := newUser(t, s, polydev.TierFree)
	_, err = s.SetStripeCustomer(ctx(t), other.ID, "cus_A", now)
	mustCode(t, err, polydev.ECONFLICT)

	end := now.Add(30 * 24 * time.Hour)
	ch, err := s.ApplyBillingEvent(ctx(t), billingEvent("evt_1", now), u.ID, func(cur *polydev.Subscription) *polydev.Subscription {
		if cur == nil || cur.CustomerID != "cus_A" || cur.Status != "" {
			t.Errorf("apply got %+v, want the customer row without a subscription", cur)
		}
		cur.SubscriptionID, cur.Tier, cur.Status, cur.CurrentPeriodEnd, cur.CancelAtPeriodEnd, cur.StateAt = "sub_1", polydev.TierPro, "active", &end, true, now
		return cur
	})
	must(t, err)
	if ch != (polydev.TierChange{Applied: true, UserID: u.ID, From: polydev.TierFree, To: polydev.TierPro}) {
		t.Fatalf("change = %+v", ch)
	}
	sub, err := s.SubscriptionByCustomer(ctx(t), "cus_A")
	must(t, err)
	if sub.UserID != u.ID || sub.Tier != polydev.TierPro || sub.Status != "active" || !sub.CurrentPeriodEnd.Equal(end) ||
		!sub.CancelAtPeriodEnd || !sub.StateAt.Equal(now) || sub.GraceUntil != nil {
		t.Fatalf("stored %+v", sub)
	}
	if got, _ := s.UserByID(ctx(t), u.ID); got.Tier != polydev.TierPro {
		t.Fatalf("user tier = %s, want pro", got.Tier)
	}

	// The same event again: nothing runs, nothing changes.
	ch, err = s.ApplyBillingEvent(ctx(t), billingEvent("evt_1", now), u.ID, func(*polydev.Subscription) *polydev.Subscription {
		t.Error("apply ran for a recorded event")
		return nil
	})
	must(t, err)
	if ch.Applied {
		t.Fatalf("duplicate applied: %+v", ch)
	}

	// Grace: expired at now+8d, not before.
	grace := now.Add(7 * 24 * time.Hour)
	_, err = s.ApplyBillingEvent(ctx(t), billingEvent("evt_2", now.Add(time.Hour)), u.ID, func(cur *polydev.Subscription) *polydev.Subscription {
		cur.Status, cur.PaymentFailedAt, cur.GraceUntil = "past_due", &now, &grace
		return cur
	})
	must(t, err)
	ids, err := s.GraceExpired(ctx(t), now.Add(24*time.Hour))
	must(t, err)
	if len(ids) != 0 {
		t.Fatalf("GraceExpired before the end = %v", ids)
	}
	later := now.Add(8 * 24 * time.Hour)
	ids, err = s.GraceExpired(ctx(t), later)
	must(t, err)
	if len(ids) != 1 || ids[0] != u.ID {
		t.Fatalf("GraceExpired = %v, want [%s]", ids, u.ID)
	}
	ch, err = s.ExpireGrace(ctx(t), u.ID, later)
	must(t, err)
	if !ch.Applied || ch.From != polydev.TierPro || ch.To != polydev.TierFree {
		t.Fatalf("ExpireGrace = %+v", ch)
	}
	if got, _ := s.UserByID(ctx(t), u.ID); got.Tier != polydev.TierFree {
		t.Fatalf("after grace tier = %s", got.Tier)
	}
	ch, err = s.ExpireGrace(ctx(t), u.ID, later)
	must(t, err)
	if ch.Applied {
		t.Fatalf("second ExpireGrace applied: %+v", ch)
	}
	// Paid meanwhile: the grace ends, the tier comes back and the job leaves it alone.
	_, err = s.ApplyBillingEvent(ctx(t), billingEvent("evt_3", later), u.ID, func(cur *polydev.Subscription) *polydev.Subscription {
		cur.Status, cur.PaymentFailedAt, cur.GraceUntil, cur.PaidAt = "active", nil, nil, &later
		return cur
	})
	must(t, err)
	if sub, err := s.SubscriptionFor(ctx(t), u.ID); err != nil || sub.PaidAt == nil || !sub.PaidAt.Equal(later) {
		t.Fatalf("paid at after payment = %v (%v), want %v", sub, err, later)
	}
	if ch, _ := s.ExpireGrace(ctx(t), u.ID, later.Add(time.Hour)); ch.Applied {
		t.Fatalf("ExpireGrace after payment applied: %+v", ch)
	}
	if got, _ := s.UserByID(ctx(t), u.ID); got.Tier != polydev.TierPro {
		t.Fatalf("after payment tier = %s", got.Tier)
	}

	// An event for no known user is recorded only.
	ch, err = s.ApplyBillingEvent(ctx(t), billingEvent("evt_4", now), "", func(*polydev.Subscription) *polydev.Subscription {
		t.Error("apply ran without a user")
		return nil
	})
	must(t, err)
	if !ch.Applied {
		t.Fatalf("unowned event not recorded: %+v", ch)
	}
	// An unknown user is ENOTFOUND, and the event id is not kept (Stripe may deliver it again).
	_, err = s.ApplyBillingEvent(ctx(t), billingEvent("evt_5", now), polydev.NewID(), setPlan("cus_X", polydev.TierPlus, "active", now))
	mustCode(t, err, polydev.ENOTFOUND)
	ch, err = s.ApplyBillingEvent(ctx(t), billingEvent("evt_5", now), u.ID, setPlan("cus_A", polydev.TierPlus, "active", now))
	must(t, err)
	if !ch.Applied || ch.To != polydev.TierPlus {
		t.Fatalf("evt_5 after a failed attempt = %+v", ch)
	}
}

// testBillingEventConcurrent delivers one event many times at once, and different events of one user
// at once: each event id is applied exactly once and no update is lost.
func testBillingEventConcurrent(t *testing.T, s polydev.Store) {
	u := newUser(t, s, polydev.TierFree)
	now := time.Now().UTC().Truncate(time.Millisecond)
	_, err := s.SetStripeCustomer(ctx(t), u.ID, "cus_C", now)
	must(t, err)
	var mu sync.Mutex
	runs, applied := 0, 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ch, err := s.ApplyBillingEvent(ctx(t), billingEvent("evt_same", now), u.ID, func(cur *polydev.Subscription) *polydev.Subscription {
				mu.Lock()
				runs++
				mu.Unlock()
				cur.Tier, cur.Status, cur.StateAt = polydev.TierPlus, "active", now
				return cur
			})
			if err != nil {
				t.Error(err)
				return
			}
			if ch.Applied {
				mu.Lock()
				applied++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if runs != 1 || applied != 1 {
		t.Fatalf("one event delivered 8 times: apply ran %d times, %d reported applied; want 1 and 1", runs, applied)
	}

	// Different events, each adding to a counter kept in the row (the period end, in seconds): a
	// lost update would show as a smaller total.
	const n = 10
	for i := range n {
		wg.Go(func() {
			ev := billingEvent(polydev.NewID(), now.Add(time.Duration(i)*time.Second))
			_, err := s.ApplyBillingEvent(ctx(t), ev, u.ID, func(cur *polydev.Subscription) *polydev.Subscription {
				end := time.Unix(0, 0).UTC()
				if cur.CurrentPeriodEnd != nil {
					end = *cur.CurrentPeriodEnd
				}
				end = end.Add(time.Second)
				cur.CurrentPeriodEnd = &end
				return cur
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	sub, err := s.SubscriptionFor(ctx(t), u.ID)
	must(t, err)
	if got := sub.CurrentPeriodEnd.Unix(); got != n {
		t.Fatalf("%d concurrent events of one user: counter = %d (lost updates)", n, got)
	}
}
