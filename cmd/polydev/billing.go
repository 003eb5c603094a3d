package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/billing"
	"github.com/polydev/polydev/web"
)

// loadBilling reads the POLYDEV_STRIPE_* settings (never flags: ps would show the keys). None set:
// billing is off. Some set: all of them must be (billing.Config.Validate says which are missing).
// Checkout returns users to public (POLYDEV_PUBLIC_URL, else the listen address over http).
func loadBilling(env func(k, def string) string, public string) (billing.Config, error) {
	c := billing.Config{
		SecretKey:     env("POLYDEV_STRIPE_SECRET_KEY", ""),
		WebhookSecret: env("POLYDEV_STRIPE_WEBHOOK_SECRET", ""),
		APIBase:       env("POLYDEV_STRIPE_API_BASE", billing.DefaultAPIBase),
		PublicURL:     public,
		Prices:        map[polydev.Tier]string{},
	}
	for t, name := range map[polydev.Tier]string{
		polydev.TierPlus: "POLYDEV_STRIPE_PRICE_PLUS", polydev.TierPro: "POLYDEV_STRIPE_PRICE_PRO", polydev.TierEnterprise: "POLYDEV_STRIPE_PRICE_ENTERPRISE",
	} {
		if p := env(name, ""); p != "" {
			c.Prices[t] = p
		}
	}
	if v := env("POLYDEV_BILLING_GRACE", ""); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return c, fmt.Errorf("POLYDEV_BILLING_GRACE: %q is not a positive duration like 168h", v)
		}
		c.Grace = d
	}
	if c.Enabled() {
		if err := c.Validate(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// openBilling builds the Stripe service when billing is configured (nil otherwise: billing routes
// answer 503 and administrators set tiers).
func openBilling(cfg *Config, st polydev.Store, log *slog.Logger) (*billing.Service, error) {
	if !cfg.Billing.Enabled() {
		log.Info("billing off: tiers are set by administrators (POLYDEV_STRIPE_* turn Stripe on)")
		return nil, nil
	}
	b, err := billing.New(cfg.Billing, st, log)
	if err != nil {
		return nil, err
	}
	log.Info("billing on", "stripe_api", cfg.Billing.APIBase, "public_url", cfg.Billing.PublicURL, "tiers", b.Tiers(), "grace", b.Grace())
	return b, nil
}

// startGraceExpirer runs the job that drops users to free when a failed payment's grace period
// ends, applying the new tier's rules through srv.
func startGraceExpirer(ctx context.Context, cl *closers, st polydev.BillingStore, log *slog.Logger, srv *web.Server) {
	g := &billing.GraceExpirer{Store: st, Log: log, TierChanged: srv.ApplyTierChange}
	g.Start(ctx)
	cl.add("grace-expirer", func(context.Context) error { g.Stop(); return nil })
}
