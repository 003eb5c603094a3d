package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

func TestBillingConfig(t *testing.T) {
	t.Parallel()
	load := func(env map[string]string) (*Config, error) {
		return loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil || c.Billing.Enabled() {
		t.Fatalf("no settings: billing %+v, %v", c.Billing, err)
	}
	full := map[string]string{
		"POLYDEV_STRIPE_SECRET_KEY": "sk_test_1", "POLYDEV_STRIPE_WEBHOOK_SECRET": "whsec_1",
		"POLYDEV_STRIPE_PRICE_PLUS": "price_a", "POLYDEV_STRIPE_PRICE_PRO": "price_b",
		"POLYDEV_BILLING_GRACE": "72h", "POLYDEV_PUBLIC_URL": "https://ai.example.com",
	}
	c, err = load(full)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Billing
	if !b.Enabled() || b.Prices[polydev.TierPlus] != "price_a" || b.Prices[polydev.TierPro] != "price_b" || len(b.Prices) != 2 ||
		b.Grace != 72*time.Hour || b.PublicURL != "https://ai.example.com" || b.APIBase != "https://api.stripe.com" {
		t.Fatalf("billing config = %+v", b)
	}
	for _, tc := range []struct {
		drop, set, val, want string
	}{
		{drop: "POLYDEV_STRIPE_WEBHOOK_SECRET", want: "POLYDEV_STRIPE_WEBHOOK_SECRET"},
		{drop: "POLYDEV_STRIPE_SECRET_KEY", want: "POLYDEV_STRIPE_SECRET_KEY"},
		{set: "POLYDEV_STRIPE_PRICE_PRO", val: "price_a", want: "same price"},
		{set: "POLYDEV_BILLING_GRACE", val: "-1h", want: "POLYDEV_BILLING_GRACE"},
		{set: "POLYDEV_STRIPE_API_BASE", val: "ftp://x", want: "POLYDEV_STRIPE_API_BASE"},
	} {
		env := map[string]string{}
		for k, v := range full {
			env[k] = v
		}
		delete(env, tc.drop)
		if tc.set != "" {
			env[tc.set] = tc.val
		}
		if _, err := load(env); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("drop %s / set %s=%s: err = %v, want one naming %q", tc.drop, tc.set, tc.val, err, tc.want)
		}
	}
	// Only the webhook secret: still a configuration error, not billing silently off.
	if _, err := load(map[string]string{"POLYDEV_STRIPE_WEBHOOK_SECRET": "whsec_1"}); err == nil {
		t.Error("a partial configuration was accepted")
	}
}
