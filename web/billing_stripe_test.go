package web

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// stripeCalls records the requests billing sends to (stripe-mock's) Stripe API.
type stripeCalls struct {
	mu    sync.Mutex
	calls []stripeCall
}

type stripeCall struct {
	method, path string
	form         url.Values
	auth         string
}

func (c *stripeCalls) RoundTrip(r *http.Request) (*http.Response, error) {
	call := stripeCall{method: r.Method, path: r.URL.Path, auth: r.Header.Get("Authorization")}
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(strings.NewReader(string(b)))
		call.form, _ = url.ParseQuery(string(b))
	}
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *stripeCalls) to(method, path string) []stripeCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []stripeCall
	for _, x := range c.calls {
		if x.method == method && x.path == path {
			out = append(out, x)
		}
	}
	return out
}

// TestSubscriptionAgainstStripeMock runs checkout, portal, invoices and the subscription view
// against stripe-mock: what billing sends Stripe, that the customer is created once and reused, and
// what the caller gets back.
func TestSubscriptionAgainstStripeMock(t *testing.T) {
	api := testkit.StripeMock(t)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			calls := &stripeCalls{}
			e := newBillingEnv(t, engine, api, &http.Client{Transport: calls})
			cookie := e.signup("buyer@example.com", pw)
			u := mustUser(t, e.env, "buyer@example.com")

			var st subscriptionJSON
			e.want(e.do("GET", "/api/subscription", nil, "Cookie", cookie), http.StatusOK).json(t, &st)
			if st.Tier != polydev.TierFree || st.Status != "none" || st.Plan != "" || len(st.Purchasable) != 3 {
				t.Fatalf("before any upgrade: %+v", st)
			}
			got := e.want(e.do("POST", "/api/subscription/portal", nil, "Cookie", cookie), http.StatusNotFound).errorBody(t)
			if !strings.Contains(got.Message, "no subscription yet") {
				t.Fatalf("portal before upgrading: %+v", got)
			}
			var inv struct{ Invoices []map[string]any }
			e.want(e.do("GET", "/api/subscription/invoices", nil, "Cookie", cookie), http.StatusOK).json(t, &inv)
			if len(inv.Invoices) != 0 {
				t.Fatalf("invoices before upgrading: %v", inv)
			}
			for _, bad := range []any{map[string]string{"tier": "free"}, map[string]string{"tier": "gold"}, map[string]int{"tier": 1}, "{"} {
				e.want(e.do("POST", "/api/subscription/upgrade", bad, "Cookie", cookie), http.StatusBadRequest).errorBody(t)
			}
			if n := len(calls.to("POST", "/v1/customers")); n != 0 {
				t.Fatalf("refused upgrades created %d customers", n)
			}

			var out struct{ URL string }
			e.want(e.do("POST", "/api/subscription/upgrade", map[string]string{"tier": "pro"}, "Cookie", cookie), http.StatusOK).json(t, &out)
			e.want(e.do("POST", "/api/subscription/upgrade", map[string]string{"tier": "plus"}, "Cookie", cookie), http.StatusOK)
			if !strings.HasPrefix(out.URL, "https://") {
				t.Fatalf("checkout url = %q", out.URL)
			}
			customers := calls.to("POST", "/v1/customers")
			if len(customers) != 1 || customers[0].form.Get("email") != "buyer@example.com" || customers[0].form.Get("metadata[polydev_user_id]") != u.ID {
				t.Fatalf("customer creations: %+v (want one, reused by the second upgrade)", customers)
			}
			if customers[0].auth != "Bearer sk_test_polydev" {
				t.Fatalf("Stripe auth header = %q", customers[0].auth)
			}
			sessions := calls.to("POST", "/v1/checkout/sessions")
			if len(sessions) != 2 {
				t.Fatalf("%d checkout sessions, want 2", len(sessions))
			}
			sub, err := e.store.SubscriptionFor(t.Context(), u.ID)
			if err != nil || sub.CustomerID == "" || sub.Status != "" {
				t.Fatalf("stored customer: %+v %v", sub, err)
			}
			f := sessions[0].form
			for k, want := range map[string]string{
				"mode": "subscription", "customer": sub.CustomerID, "client_reference_id": u.ID,
				"line_items[0][price]": "price_pro", "line_items[0][quantity]": "1",
				"success_url": "https://polydev.example/subscription?checkout=success", "cancel_url": "https://polydev.example/pricing?checkout=cancelled",
				"metadata[polydev_tier]": "pro", "subscription_data[metadata][polydev_user_id]": u.ID,
			} {
				if got := f.Get(k); got != want {
					t.Errorf("checkout %s = %q, want %q", k, got, want)
				}
			}
			if got := sessions[1].form.Get("line_items[0][price]"); got != "price_plus" {
				t.Errorf("second checkout price = %q", got)
			}

			e.want(e.do("POST", "/api/subscription/portal", nil, "Cookie", cookie), http.StatusOK).json(t, &out)
			portal := calls.to("POST", "/v1/billing_portal/sessions")
			if out.URL == "" || len(portal) != 1 || portal[0].form.Get("customer") != sub.CustomerID ||
				portal[0].form.Get("return_url") != "https://polydev.example/subscription" {
				t.Fatalf("portal: url %q, calls %+v", out.URL, portal)
			}
			e.want(e.do("GET", "/api/subscription/invoices", nil, "Cookie", cookie), http.StatusOK).json(t, &inv)
			list := calls.to("GET", "/v1/invoices")
			if len(inv.Invoices) == 0 || inv.Invoices[0]["id"] == "" || len(list) != 1 {
				t.Fatalf("invoices: %v, calls %d", inv, len(list))
			}

			// A live subscription is changed in the portal, never bought twice.
			e.want(e.deliver(fixture(t, "subscription_created", "mock")), http.StatusOK) // another customer: ignored
			if _, err := e.store.ApplyBillingEvent(t.Context(), polydev.BillingEvent{ID: "evt_local", Type: "test", Created: e.clock.now(), Received: e.clock.now()}, u.ID,
				func(cur *polydev.Subscription) *polydev.Subscription {
					cur.SubscriptionID, cur.Tier, cur.Status = "sub_live", polydev.TierPro, "active"
					return cur
				}); err != nil {
				t.Fatal(err)
			}
			got = e.want(e.do("POST", "/api/subscription/upgrade", map[string]string{"tier": "enterprise"}, "Cookie", cookie), http.StatusConflict).errorBody(t)
			if !strings.Contains(got.Message, "billing portal") {
				t.Fatalf("upgrade with a live subscription: %+v", got)
			}
			e.want(e.do("GET", "/api/subscription", nil, "Cookie", cookie), http.StatusOK).json(t, &st)
			if st.Tier != polydev.TierPro || st.Plan != polydev.TierPro || st.Status != "active" {
				t.Fatalf("subscription view: %+v", st)
			}
			// The secret key never reaches the log.
			if strings.Contains(e.logs.String(), "sk_test_polydev") {
				t.Fatal("the Stripe secret key is in the log")
			}
		})
	}
}
