// Package billing connects Polydev to Stripe: Checkout sessions to start a paid plan, customer
// portal links to change or cancel it, invoices, and the signed webhook events that are the only
// thing that changes a subscription (and so a user's tier). It owns the Stripe client and the
// meaning of events; it must not hold HTTP routing (package web) or SQL (package store), and it
// never decides on its own that anyone paid.
package billing

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/polydev/polydev"
)

// DefaultAPIBase is Stripe's API; tests point APIBase at stripe-mock on loopback.
const DefaultAPIBase = "https://api.stripe.com"

// DefaultGrace is how long a user keeps a paid tier after a failed payment.
const DefaultGrace = 7 * 24 * time.Hour

// ErrNotConfigured answers every billing route while Stripe is not configured.
var ErrNotConfigured = polydev.Errorf(polydev.EUNAVAILABLE, "billing is not configured on this server: an administrator sets tiers (POLYDEV_STRIPE_SECRET_KEY, POLYDEV_STRIPE_WEBHOOK_SECRET and POLYDEV_STRIPE_PRICE_* turn it on)")

// Config is what billing needs. Zero durations get the defaults.
type Config struct {
	SecretKey     string                  // Stripe secret key (sk_... or rk_...)
	WebhookSecret string                  // the webhook endpoint's signing secret (whsec_...)
	Prices        map[polydev.Tier]string // the Stripe price id of each paid tier
	APIBase       string                  // default DefaultAPIBase
	PublicURL     string                  // where users reach Polydev: Checkout returns there
	Grace         time.Duration           // default DefaultGrace
	Tolerance     time.Duration           // default DefaultTolerance
	HTTPClient    *http.Client            // default: a client with a 30 s timeout
}

// Enabled reports whether any Stripe setting is present; Validate then says what is missing.
func (c *Config) Enabled() bool {
	return c.SecretKey != "" || c.WebhookSecret != "" || len(c.Prices) > 0
}

// Validate checks a configuration that is Enabled: all of it must be there, or none.
func (c *Config) Validate() error {
	var missing []string
	if c.SecretKey == "" {
		missing = append(missing, "POLYDEV_STRIPE_SECRET_KEY")
	}
	if c.WebhookSecret == "" {
		missing = append(missing, "POLYDEV_STRIPE_WEBHOOK_SECRET")
	}
	if len(c.Prices) == 0 {
		missing = append(missing, "a price (POLYDEV_STRIPE_PRICE_PLUS, _PRO or _ENTERPRISE)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("billing: set %s, or none of the POLYDEV_STRIPE_* settings", strings.Join(missing, ", "))
	}
	seen := map[string]polydev.Tier{}
	for t, p := range c.Prices {
		if t == polydev.TierFree || !t.Valid() {
			return fmt.Errorf("billing: tier %q cannot have a price", t)
		}
		if other, dup := seen[p]; dup {
			return fmt.Errorf("billing: tiers %s and %s have the same price %s", other, t, p)
		}
		seen[p] = t
	}
	for name, raw := range map[string]string{"POLYDEV_STRIPE_API_BASE": c.APIBase, "POLYDEV_PUBLIC_URL": c.PublicURL} {
		if raw == "" {
			continue
		}
		if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("billing: %s %q is not an http(s) URL", name, raw)
		}
	}
	return nil
}

// tierOf maps a Stripe price to the tier it pays for; ok false for a price not configured here.
func (c *Config) tierOf(price string) (polydev.Tier, bool) {
	for t, p := range c.Prices {
		if p == price {
			return t, true
		}
	}
	return "", false
}

// Store is what billing reads and writes. polydev.Store satisfies it.
type Store interface {
	polydev.BillingStore
	UserByID(ctx context.Context, id string) (*polydev.User, error)
}

// Service is billing for one server.
type Service struct {
	cfg    Config
	store  Store
	stripe *stripe.Client
	log    *slog.Logger
	// Now is the clock (tests move it).
	Now func() time.Time
}

// New builds the service; cfg must pass Validate.
func New(cfg Config, st Store, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.APIBase = strings.TrimRight(cmp.Or(cfg.APIBase, DefaultAPIBase), "/")
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	cfg.Grace = cmp.Or(cfg.Grace, DefaultGrace)
	cfg.Tolerance = cmp.Or(cfg.Tolerance, DefaultTolerance)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	backends := stripe.NewBackendsWithConfig(&stripe.BackendConfig{
		URL:        stripe.String(cfg.APIBase),
		HTTPClient: cfg.HTTPClient,
		// stripe-go's own logger writes to stderr; failures are logged here instead, with the
		// request id and never the key.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return &Service{cfg: cfg, store: st, stripe: stripe.NewClient(cfg.SecretKey, stripe.WithBackends(backends)), log: log, Now: polydev.Now}, nil
}

// Grace is the configured grace period after a failed payment.
func (s *Service) Grace() time.Duration { return s.cfg.Grace }

// Tiers lists the tiers that can be bought here, lowest first.
func (s *Service) Tiers() []polydev.Tier {
	var out []polydev.Tier
	for _, t := range polydev.Tiers {
		if _, ok := s.cfg.Prices[t]; ok {
			out = append(out, t)
		}
	}
	return out
}
