package ui_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/billing"
	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/web"
)

const webhookSecret = "whsec_polydev_ui_test"

// TestBillingJourneyInChromium: pricing → "Upgrade to pro" creates a Checkout Session at stripe-mock
// and sends the browser to its URL (which resolves nowhere here: the test only sees the attempt);
// Stripe's signed checkout.session.completed webhook then moves the user to pro, which the
// dashboard and the plan page show. Without billing the plan page says admins set plans.
func TestBillingJourneyInChromium(t *testing.T) {
	stripeURL := testkit.StripeMock(t)
	s := newSite(t, func(c *web.Config, d *web.Deps) {
		svc, err := billing.New(billing.Config{SecretKey: "sk_test_polydevui", WebhookSecret: webhookSecret,
			Prices:  map[polydev.Tier]string{polydev.TierPlus: "price_plus_ui", polydev.TierPro: "price_pro_ui"},
			APIBase: stripeURL, PublicURL: "https://polydev.example"}, d.Store, d.Log)
		must(t, err)
		d.Billing = svc
	})
	b := newBrowser(t, s)
	defer logShotDir(t)
	b.signup("sam@example.com")

	b.visit("/pricing")
	b.shot("pricing-upgrade")
	b.click("#buy-pro")
	// The answer's URL is Stripe's hosted checkout; the browser goes there (and, here, nowhere).
	b.until(`location.href.startsWith("https://checkout.stripe.com/") || location.href.startsWith("chrome-error:")`)
	b.allowOnly("checkout.stripe.com")

	u, err := s.Store.UserByEmail(t.Context(), "sam@example.com")
	must(t, err)
	sub, err := s.Store.SubscriptionFor(t.Context(), u.ID)
	must(t, err)
	if sub.CustomerID == "" {
		t.Fatal("checkout recorded no Stripe customer for the user")
	}
	// Stripe's webhook after payment: the session for that customer, paid, for pro.
	now := time.Now().UTC()
	body := []byte(fmt.Sprintf(`{"id":"evt_ui_checkout","object":"event","api_version":"2025-03-31.basil","created":%d,"livemode":false,
"type":"checkout.session.completed","data":{"object":{"id":"cs_test_ui","object":"checkout.session","mode":"subscription",
"status":"complete","payment_status":"paid","customer":%q,"subscription":"sub_ui","client_reference_id":%q,"metadata":{"polydev_tier":"pro"}}}}`,
		now.Unix(), sub.CustomerID, u.ID))
	req, err := http.NewRequest("POST", s.URL+"/api/webhooks/stripe", bytes.NewReader(body))
	must(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", billing.Sign(body, webhookSecret, now))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the loopback test server's certificate
	res, err := hc.Do(req)
	must(t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("webhook = %d, want 200", res.StatusCode)
	}

	b.visit("/dashboard")
	if got := b.text(".who .tier"); !strings.EqualFold(got, "pro") { // the badge is capitalised by CSS
		t.Fatalf("dashboard shows tier %q after the webhook, want pro", got)
	}
	b.visit("/settings/subscription")
	if got := b.text("#plan-h"); !strings.Contains(strings.ToLower(got), "pro") {
		t.Fatalf("plan page: %q", got)
	}
	if got := b.text("main"); !strings.Contains(got, "Subscription to pro: active") {
		t.Fatalf("plan page does not show the active subscription:\n%s", got)
	}
	b.shot("subscription")
	b.check()
}

// TestPlanPageWithoutBilling: no Stripe settings, no checkout: the page says who sets plans.
func TestPlanPageWithoutBilling(t *testing.T) {
	s := newSite(t)
	b := newBrowser(t, s)
	b.signup("kim@example.com")
	b.visit("/settings/subscription")
	if got := b.text("main"); !strings.Contains(got, "Billing is not configured") {
		t.Fatalf("plan page without billing:\n%s", got)
	}
	b.visit("/pricing")
	if n := b.count("button[id^=buy-]"); n != 0 {
		t.Fatalf("%d upgrade buttons on the pricing page without billing", n)
	}
	b.check()
}

// allowOnly drops the recorded problems that are the browser's attempt to reach host (the one
// navigation the test caused on purpose), failing if there was none, and keeps every other.
func (b *browser) allowOnly(host string) {
	b.t.Helper()
	b.mu.Lock()
	var kept []string
	seen := false
	for _, p := range b.problems {
		if strings.Contains(p, host) {
			seen = true
			continue
		}
		kept = append(kept, p)
	}
	b.problems = kept
	b.mu.Unlock()
	if !seen {
		b.t.Fatalf("the browser never tried to reach %s", host)
	}
	b.check()
}

// count is how many elements match sel.
func (b *browser) count(sel string) int {
	b.t.Helper()
	js, _ := json.Marshal(sel)
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+string(js)+`).length`))
	must(b.t, err)
	return n
}
