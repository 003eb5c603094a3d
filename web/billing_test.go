package web

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/billing"
)

const testWebhookSecret = "whsec_polydev_test_secret"

// fixtureTime is the `created` of the first event under testdata/stripe; the server's clock is set
// just after the last one, so signatures, grace periods and event order all share one time line.
var fixtureTime = time.Unix(1790000000, 0).UTC()

var testPrices = map[polydev.Tier]string{polydev.TierPlus: "price_plus", polydev.TierPro: "price_pro", polydev.TierEnterprise: "price_enterprise"}

type billingEnv struct {
	*env
	svc *billing.Service
}

// newBillingEnv is newEnv with Stripe configured against apiBase (stripe-mock, or an address no
// test reaches when only webhooks are exercised) and the clock at the fixtures' time.
func newBillingEnv(t *testing.T, engine, apiBase string, client *http.Client) *billingEnv {
	t.Helper()
	e := newEnv(t, engine, Config{})
	e.clock.set(time.Until(fixtureTime.Add(1000 * time.Second)))
	svc, err := billing.New(billing.Config{
		SecretKey: "sk_test_polydev", WebhookSecret: testWebhookSecret, Prices: testPrices,
		APIBase: apiBase, PublicURL: "https://polydev.example", HTTPClient: client,
	}, e.store, e.srv.log)
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = e.clock.now
	e.srv.billing = svc
	return &billingEnv{env: e, svc: svc}
}

// customer signs up a user and records run's Stripe customer for them, as a first upgrade does.
func (e *billingEnv) customer(email, run string) (cookie string, u *polydev.User) {
	e.t.Helper()
	cookie = e.signup(email, pw)
	u = mustUser(e.t, e.env, email)
	if _, err := e.store.SetStripeCustomer(e.t.Context(), u.ID, "cus_PolydevTest"+run, e.clock.now()); err != nil {
		e.t.Fatal(err)
	}
	return cookie, u
}

// fixture reads a Stripe event from testdata/stripe with run's customer, subscription and event ids.
func fixture(t testing.TB, name, run string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "stripe", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("PolydevTest"), []byte("PolydevTest"+run))
	return bytes.ReplaceAll(b, []byte(`"evt_`), []byte(`"evt_`+run))
}

// deliver posts body to the webhook signed at the server's now, as Stripe does.
func (e *billingEnv) deliver(body []byte) *resp {
	e.t.Helper()
	return e.do("POST", "/api/webhooks/stripe", string(body), "Stripe-Signature", billing.Sign(body, testWebhookSecret, e.clock.now()))
}

func (e *billingEnv) tierOf(u *polydev.User) polydev.Tier {
	e.t.Helper()
	got, err := e.store.UserByID(e.t.Context(), u.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got.Tier
}

// logRecords returns the server's log so far, each line as a map.
func (e *billingEnv) logRecords() []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}

func TestBillingNotConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	c := e.signup("nobill@example.com", pw)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/api/subscription"}, {"POST", "/api/subscription/upgrade"}, {"POST", "/api/subscription/portal"},
		{"GET", "/api/subscription/invoices"}, {"POST", "/api/webhooks/stripe"},
	} {
		var body any
		if rt.method == "POST" {
			body = map[string]string{"tier": "pro"}
		}
		got := e.want(e.do(rt.method, rt.path, body, "Cookie", c), http.StatusServiceUnavailable).errorBody(t)
		if !strings.Contains(got.Message, "billing is not configured") || got.Code != polydev.EUNAVAILABLE {
			t.Errorf("%s %s: %+v", rt.method, rt.path, got)
		}
	}
}

// TestStripeWebhookRefusesBadSignatures: a missing, wrong, stale or future signature, and a body
// changed by one byte after signing, are each a 400 that changes nothing; the genuine delivery of the
// same event is then applied (so the refusals did not record its id).
func TestStripeWebhookRefusesBadSignatures(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newBillingEnv(t, engine, "http://127.0.0.1:9", nil)
			_, u := e.customer("sig@example.com", "sig")
			body := fixture(t, "subscription_updated_pro", "sig")
			now := e.clock.now()
			flipped := bytes.Clone(body)
			i := bytes.Index(flipped, []byte("price_pro")) + len("price_pr")
			flipped[i] = 'a' // "price_pra": a price this server does not sell, had it been accepted
			for _, tc := range []struct {
				name, header string
				body         []byte
			}{
				{"missing", "", body},
				{"wrong secret", billing.Sign(body, "whsec_someone_else", now), body},
				{"stale", billing.Sign(body, testWebhookSecret, now.Add(-310*time.Second)), body},
				{"future", billing.Sign(body, testWebhookSecret, now.Add(310*time.Second)), body},
				{"one byte changed", billing.Sign(body, testWebhookSecret, now), flipped},
				{"no v1", strings.Replace(billing.Sign(body, testWebhookSecret, now), "v1=", "v0=", 1), body},
				{"garbage", "t=abc,v1=zz", body},
			} {
				r := e.do("POST", "/api/webhooks/stripe", string(tc.body), "Stripe-Signature", tc.header)
				got := e.want(r, http.StatusBadRequest).errorBody(t)
				if got.Code != polydev.EINVALID || !strings.Contains(got.Message, "Stripe-Signature") {
					t.Errorf("%s: %+v", tc.name, got)
				}
				if tier := e.tierOf(u); tier != polydev.TierFree {
					t.Fatalf("%s: tier became %s", tc.name, tier)
				}
				if sub, err := e.store.SubscriptionFor(t.Context(), u.ID); err != nil || sub.Status != "" {
					t.Fatalf("%s: subscription changed: %+v %v", tc.name, sub, err)
				}
			}
			// Several v1 values (Stripe sends one per secret while a secret is rolled): one must match.
			good := billing.Sign(body, testWebhookSecret, now)
			_, v1, _ := strings.Cut(good, ",")
			header := strings.Replace(good, v1, "v1="+strings.Repeat("ab", 32)+","+v1, 1)
			e.want(e.do("POST", "/api/webhooks/stripe", string(body), "Stripe-Signature", header), http.StatusOK)
			if tier := e.tierOf(u); tier != polydev.TierPro {
				t.Fatalf("genuine delivery: tier = %s, want pro", tier)
			}
		})
	}
}

// TestStripeWebhookDuplicateConcurrent delivers one event eight times at once: every delivery is
// acknowledged and exactly one is applied.
func TestStripeWebhookDuplicateConcurrent(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newBillingEnv(t, engine, "http://127.0.0.1:9", nil)
			_, u := e.customer("dup@example.com", "dup")
			body := fixture(t, "subscription_created", "dup")
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if r := e.deliver(body); r.status != http.StatusOK {
						t.Errorf("delivery: %d %s", r.status, r.body)
					}
				})
			}
			wg.Wait()
			if tier := e.tierOf(u); tier != polydev.TierPlus {
				t.Fatalf("tier = %s, want plus", tier)
			}
			applied, seen := 0, 0
			for _, l := range e.logRecords() {
				if l["event_id"] != "evt_dup2SubscriptionCreated" {
					continue
				}
				switch l["msg"] {
				case "stripe event applied":
					applied++
				case "stripe event already applied":
					seen++
				}
			}
			if applied != 1 || seen != 7 {
				t.Fatalf("8 concurrent deliveries: %d applied, %d recognised as seen; want 1 and 7", applied, seen)
			}
		})
	}
}

// TestStripeWebhookOutOfOrder delivers a subscription's events shuffled: the final state is the
// newest event's, whatever the order.
func TestStripeWebhookOutOfOrder(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("shuffle seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	life := []string{"checkout_session_completed", "subscription_created", "subscription_updated_pro", "subscription_updated_cancel", "subscription_updated_plus"}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			e := newBillingEnv(t, engine, "http://127.0.0.1:9", nil)
			for i := range 6 {
				run := string(rune('a'+i)) + engine[:2]
				_, u := e.customer("order-"+run+"@example.com", run)
				events := append([]string(nil), life...)
				wantTier, wantStatus := polydev.TierPlus, "active"
				if i%2 == 1 { // every other run ends in cancellation
					events, wantTier, wantStatus = append(events, "subscription_deleted"), polydev.TierFree, "canceled"
				}
				rng.Shuffle(len(events), func(a, b int) { events[a], events[b] = events[b], events[a] })
				for _, name := range events {
					e.want(e.deliver(fixture(t, name, run)), http.StatusOK)
				}
				sub, err := e.store.SubscriptionFor(t.Context(), u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if tier := e.tierOf(u); tier != wantTier || sub.Status != wantStatus || sub.CancelAtPeriodEnd || sub.Tier != polydev.TierPlus {
					t.Fatalf("order %v: tier %s, subscription %+v; want tier %s, status %s, plan plus, not cancelling", events, tier, sub, wantTier, wantStatus)
				}
			}
		})
	}
}

type subscriptionJSON struct {
	Tier              polydev.Tier `json:"tier"`
	Plan              polydev.Tier `json:"plan"`
	Status            string       `json:"status"`
	RenewsAt          *time.Time   `json:"renewsAt"`
	CancelAtPeriodEnd bool         `json:"cancelAtPeriodEnd"`
	GraceUntil        *time.Time   `json:"graceUntil"`
	Purchasable       []string     `json:"purchasable"`
}

// TestStripePaymentFailedGrace: a failed payment keeps the tier for the grace period; the expiry job
// then drops it to free; a payment made later brings it back.
func TestStripePaymentFailedGrace(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newBillingEnv(t, engine, "http://127.0.0.1:9", nil)
			cookie, u := e.customer("grace@example.com", "gr")
			for _, name := range []string{"checkout_session_completed", "subscription_updated_pro", "invoice_payment_failed"} {
				e.want(e.deliver(fixture(t, name, "gr")), http.StatusOK)
			}
			var st subscriptionJSON
			e.want(e.do("GET", "/api/subscription", nil, "Cookie", cookie), http.StatusOK).json(t, &st)
			failedAt := fixtureTime.Add(100 * time.Second)
			if st.Tier != polydev.TierPro || st.Status != "past_due" || st.GraceUntil == nil || !st.GraceUntil.Equal(failedAt.Add(billing.DefaultGrace)) {
				t.Fatalf("after the failed payment: %+v", st)
			}
			expire := func(at time.Time) int {
				g := &billing.GraceExpirer{Store: e.store, Log: e.srv.log, Now: func() time.Time { return at }, TierChanged: e.srv.ApplyTierChange}
				return g.RunOnce(t.Context())
			}
			if n := expire(failedAt.Add(billing.DefaultGrace - time.Second)); n != 0 || e.tierOf(u) != polydev.TierPro {
				t.Fatalf("within the grace period: %d dropped, tier %s", n, e.tierOf(u))
			}
			if n := expire(failedAt.Add(billing.DefaultGrace)); n != 1 || e.tierOf(u) != polydev.TierFree {
				t.Fatalf("at the grace period's end: %d dropped, tier %s", n, e.tierOf(u))
			}
			if n := expire(failedAt.Add(billing.DefaultGrace + time.Hour)); n != 0 {
				t.Fatalf("second run dropped %d", n)
			}
			// Stripe's retry succeeds later: the tier comes back. (A week later the browser session
			// has ended; an API token reads the subscription.)
			token, _ := e.token(cookie)
			e.clock.set(time.Until(failedAt.Add(billing.DefaultGrace + 2*time.Hour)))
			e.want(e.deliver(fixture(t, "invoice_paid", "gr")), http.StatusOK)
			e.want(e.do("GET", "/api/subscription", nil, "Authorization", "Bearer "+token), http.StatusOK).json(t, &st)
			if st.Tier != polydev.TierPro || st.Status != "active" || st.GraceUntil != nil {
				t.Fatalf("after the payment: %+v", st)
			}
			// Refunds and disputes are logged for the operator and change nothing.
			e.want(e.deliver(fixture(t, "charge_refunded", "gr")), http.StatusOK)
			e.want(e.deliver(fixture(t, "charge_dispute_created", "gr")), http.StatusOK)
			logged := 0
			for _, l := range e.logRecords() {
				if (l["msg"] == "stripe charge.refunded" && l["user_id"] == u.ID) || l["msg"] == "stripe charge.dispute.created" && l["charge_id"] == "ch_PolydevTestgr" {
					logged++
				}
			}
			if logged != 2 || e.tierOf(u) != polydev.TierPro {
				t.Fatalf("refund and dispute: %d logged, tier %s", logged, e.tierOf(u))
			}
		})
	}
}

// TestStripeInvoiceOrder: a payment failure and the newer payment that settled it, delivered in
// either order, leave the subscription active with no grace period; only a failure newer than the
// payment opens one.
func TestStripeInvoiceOrder(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newBillingEnv(t, engine, "http://127.0.0.1:9", nil)
			for i, order := range [][]string{{"invoice_payment_failed", "invoice_paid"}, {"invoice_paid", "invoice_payment_failed"}} {
				run := "io" + string(rune('a'+i))
				_, u := e.customer("invoices-"+run+"@example.com", run)
				for _, name := range append([]string{"checkout_session_completed", "subscription_updated_pro"}, order...) {
					e.want(e.deliver(fixture(t, name, run)), http.StatusOK)
				}
				sub, err := e.store.SubscriptionFor(t.Context(), u.ID)
				if err != nil {
					t.Fatal(err)
				}
				if sub.Status != "active" || sub.GraceUntil != nil || sub.PaymentFailedAt != nil || e.tierOf(u) != polydev.TierPro {
					t.Fatalf("order %v: status %s, grace %v, failed %v, tier %s; want active pro without grace", order, sub.Status, sub.GraceUntil, sub.PaymentFailedAt, e.tierOf(u))
				}
				// The next invoice fails after the payment: that one opens the grace period.
				later := bytes.Replace(fixture(t, "invoice_payment_failed", run), []byte("1790000100"), []byte("1790000250"), 1)
				later = bytes.ReplaceAll(later, []byte(`"evt_`+run), []byte(`"evt_`+run+"next"))
				e.want(e.deliver(later), http.StatusOK)
				if sub, err = e.store.SubscriptionFor(t.Context(), u.ID); err != nil {
					t.Fatal(err)
				}
				if want := fixtureTime.Add(250 * time.Second); sub.Status != "past_due" || sub.PaymentFailedAt == nil || !sub.PaymentFailedAt.Equal(want) {
					t.Fatalf("order %v, then a newer failure: status %s, failed at %v; want past_due from %v", order, sub.Status, sub.PaymentFailedAt, want)
				}
			}
		})
	}
}

// TestTierChangeAppliesAtOnce: a downgrade by webhook stops the VMs beyond the new quota, stops
// using the user's own keys (still listed, marked) and applies the new tier's ephemeral rule.
func TestTierChangeAppliesAtOnce(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newBillingEnv(t, engine, "http://127.0.0.1:9", nil)
			stub := &stubController{store: e.store}
			e.srv.vms, e.srv.tierRules.VMs = stub, stub
			cookie, u := e.customer("down@example.com", "dn")
			for _, name := range []string{"checkout_session_completed", "subscription_updated_pro"} {
				e.want(e.deliver(fixture(t, name, "dn")), http.StatusOK)
			}
			e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": "sk-own-0000000001"}, "Cookie", cookie), http.StatusCreated)
			if s := e.settings(cookie); !s.EphemeralMode || s.EphemeralRule != polydev.EphemeralDefaultOn {
				t.Fatalf("pro settings: %+v", s)
			}
			base := time.Now().UTC().Truncate(time.Millisecond)
			var vms []*polydev.VM
			for i := range 3 { // pro allows 3; the newest activity is kept first
				v := &polydev.VM{ID: polydev.NewID(), UserID: u.ID, Type: polydev.VMBrowser, State: polydev.VMRunning, Driver: "stub",
					VMResources: polydev.VMResources{VCPUs: 1, MemoryMiB: 512}, CreatedAt: base, UpdatedAt: base, LastActivityAt: base.Add(time.Duration(i) * time.Minute)}
				if err := e.store.CreateVM(t.Context(), v); err != nil {
					t.Fatal(err)
				}
				vms = append(vms, v)
			}
			running := func() (ids []string) {
				list, err := e.store.ListVMs(t.Context(), u.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range list {
					if v.State == polydev.VMRunning {
						ids = append(ids, v.ID)
					}
				}
				return ids
			}

			e.want(e.deliver(fixture(t, "subscription_updated_plus", "dn")), http.StatusOK) // plus: 1 VM
			if ids := running(); len(ids) != 1 || ids[0] != vms[2].ID {
				t.Fatalf("after the downgrade to plus, running %v; want only the most recently used %s", ids, vms[2].ID)
			}
			// Starting another is refused while one runs.
			got := e.want(e.do("POST", "/api/vms/"+vms[0].ID+"/start", nil, "Cookie", cookie), http.StatusForbidden).errorBody(t)
			if !strings.Contains(got.Message, "plus tier allows 1 running") {
				t.Fatalf("start beyond the quota: %+v", got)
			}
			if s := e.settings(cookie); s.EphemeralMode || s.EphemeralRule != polydev.EphemeralOptIn {
				t.Fatalf("plus settings: %+v", s)
			}

			e.want(e.deliver(fixture(t, "subscription_deleted", "dn")), http.StatusOK) // free: no VMs, no own keys
			if ids := running(); len(ids) != 0 {
				t.Fatalf("after cancellation, running %v", ids)
			}
			var keys struct{ Keys []keyJSON }
			e.want(e.do("GET", "/api/api-keys", nil, "Cookie", cookie), http.StatusOK).json(t, &keys)
			if len(keys.Keys) != 1 || keys.Keys[0].Available || !strings.Contains(keys.Keys[0].Suspended, "free tier") || !keys.Keys[0].Active {
				t.Fatalf("keys after cancellation: %+v", keys.Keys)
			}
			if s := e.settings(cookie); s.EphemeralMode || s.EphemeralRule != polydev.EphemeralUnavailable || s.Tier != polydev.TierFree {
				t.Fatalf("free settings: %+v", s)
			}
		})
	}
}
