package billing

import (
	"context"
	"log/slog"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/periodic"
)

// GraceExpirer is the background service that ends grace periods: a user whose payment failed and
// whose grace period has run out without a paid invoice drops to free. Stripe keeps retrying the
// payment meanwhile; a later invoice.paid restores the tier through the webhook.
type GraceExpirer struct {
	Store    polydev.BillingStore
	Log      *slog.Logger
	Interval time.Duration // default 10 minutes
	Now      func() time.Time
	// TierChanged, when set, is called after a user's tier dropped (serve applies the new tier's
	// rules: VMs beyond its quota stop).
	TierChanged func(ctx context.Context, ch polydev.TierChange)

	loop periodic.Loop
}

// Start runs the service until ctx ends or Stop is called.
func (g *GraceExpirer) Start(ctx context.Context) {
	if g.Interval == 0 {
		g.Interval = 10 * time.Minute
	}
	if g.Now == nil {
		g.Now = polydev.Now
	}
	g.loop.Start(ctx, g.Interval, func(ctx context.Context) { g.RunOnce(ctx) })
}

// RunOnce does one pass with its own deadline and returns how many users dropped to free.
func (g *GraceExpirer) RunOnce(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := g.now()
	ids, err := g.Store.GraceExpired(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			g.Log.Warn("grace expiry failed", "service", "grace-expirer", "err", err)
		}
		return 0
	}
	n := 0
	for _, id := range ids {
		ch, err := g.Store.ExpireGrace(ctx, id, now)
		if err != nil {
			g.Log.Warn("grace expiry failed", "service", "grace-expirer", "user_id", id, "err", err)
			continue
		}
		if !ch.Applied {
			continue
		}
		n++
		g.Log.Info("grace period over: tier dropped", "service", "grace-expirer", "user_id", id, "tier_from", ch.From, "tier_to", ch.To)
		if g.TierChanged != nil {
			g.TierChanged(ctx, ch)
		}
	}
	return n
}

func (g *GraceExpirer) now() time.Time {
	if g.Now == nil {
		return polydev.Now()
	}
	return g.Now()
}

// Stop ends the loop and waits for it.
func (g *GraceExpirer) Stop() { g.loop.Stop() }
