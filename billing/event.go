package billing

import (
	"bytes"
	"encoding/json"
	"time"
)

// The parts of Stripe's event and object JSON that Polydev reads. They are decoded here rather than
// with stripe-go's types so that the fields Polydev trusts are plain to see, and so that events of
// an older or newer API version than stripe-go's still decode (a subscription's period end moved
// from the subscription to its items in API version 2025-03-31).

type event struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Created  int64  `json:"created"`
	Livemode bool   `json:"livemode"`
	Data     struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

func (e *event) created() time.Time { return time.Unix(e.Created, 0).UTC() }

// ref is an id field that Stripe sends either as a string or, when expanded, as an object with an id.
type ref string

func (r *ref) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*r = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*r = ref(s)
		return nil
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*r = ref(o.ID)
	return nil
}

type checkoutSession struct {
	ID                string            `json:"id"`
	Mode              string            `json:"mode"`
	PaymentStatus     string            `json:"payment_status"`
	Customer          ref               `json:"customer"`
	Subscription      ref               `json:"subscription"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
}

type subscriptionObject struct {
	ID                string            `json:"id"`
	Customer          ref               `json:"customer"`
	Status            string            `json:"status"`
	CancelAtPeriodEnd bool              `json:"cancel_at_period_end"`
	CancelAt          int64             `json:"cancel_at"`
	CurrentPeriodEnd  int64             `json:"current_period_end"` // API versions before 2025-03-31
	Metadata          map[string]string `json:"metadata"`
	Items             struct {
		Data []struct {
			CurrentPeriodEnd int64 `json:"current_period_end"`
			Price            struct {
				ID string `json:"id"`
			} `json:"price"`
		} `json:"data"`
	} `json:"items"`
}

// periodEnd is when the subscription renews (or ends): the item's period end in current API
// versions, the subscription's own in older ones.
func (s *subscriptionObject) periodEnd() *time.Time {
	end := s.CurrentPeriodEnd
	for _, it := range s.Items.Data {
		end = max(end, it.CurrentPeriodEnd)
	}
	if end == 0 {
		return nil
	}
	t := time.Unix(end, 0).UTC()
	return &t
}

type invoiceObject struct {
	ID           string `json:"id"`
	Customer     ref    `json:"customer"`
	Subscription ref    `json:"subscription"` // API versions before 2025-03-31
	Parent       *struct {
		SubscriptionDetails *struct {
			Subscription ref `json:"subscription"`
		} `json:"subscription_details"`
	} `json:"parent"`
	AmountDue  int64  `json:"amount_due"`
	AmountPaid int64  `json:"amount_paid"`
	Currency   string `json:"currency"`
}

func (in *invoiceObject) subscription() string {
	if in.Parent != nil && in.Parent.SubscriptionDetails != nil && in.Parent.SubscriptionDetails.Subscription != "" {
		return string(in.Parent.SubscriptionDetails.Subscription)
	}
	return string(in.Subscription)
}

type chargeObject struct {
	ID             string `json:"id"`
	Customer       ref    `json:"customer"`
	Charge         ref    `json:"charge"` // disputes name their charge
	Amount         int64  `json:"amount"`
	AmountRefunded int64  `json:"amount_refunded"`
	Currency       string `json:"currency"`
	Reason         string `json:"reason"`
}
