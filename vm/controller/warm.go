package controller

import (
	"context"
	"net/netip"
	"time"
)

// warmVM is a booted, healthy VM without a record, waiting to be handed out. Its id is final: the
// record made at hand-out takes it (see the package doc).
type warmVM struct {
	id string
	ip *netip.Addr // tap mode
}

// kickRefill asks the warm loop to top the pool up.
func (c *Controller) kickRefill() {
	select {
	case c.refill <- struct{}{}:
	default:
	}
}

// bootLoop prepares the golden snapshot, then keeps the warm pool full, until ctx ends. It makes
// a new snapshot when one is discarded. A failed warm boot is retried after a pause, so that a
// broken image does not spin.
func (c *Controller) bootLoop(ctx context.Context) {
	golden := c.currentImage().SnapshotDir != ""
	for {
		if golden {
			if err := c.PrepareGolden(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("golden snapshot unavailable; VMs cold-boot", "err", err)
			}
			golden = false
		}
		if err := c.FillWarm(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("warm pool refill failed", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(30 * time.Second):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-c.refill:
		case <-c.regolden:
			golden = c.currentImage().SnapshotDir != ""
		}
	}
}

// FillWarm boots warm VMs, one at a time, until the pool holds Config.WarmPool of them.
func (c *Controller) FillWarm(ctx context.Context) error {
	for c.warmCount() < c.cfg.WarmPool {
		w, err := c.bootWarm(ctx)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.warm = append(c.warm, w)
		c.mu.Unlock()
		c.metrics.warm.Set(float64(c.warmCount()))
		if c.warmed != nil {
			c.warmed <- w.id
		}
	}
	return nil
}

func (c *Controller) warmCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.warm)
}

// bootWarm boots one warm VM the same way Create boots any VM; on failure it leaves nothing.
func (c *Controller) bootWarm(ctx context.Context) (*warmVM, error) {
	id := c.cfg.NewID()
	n, ip, err := c.acquireNet(ctx, id)
	if err != nil {
		return nil, err
	}
	path, err := c.boot(ctx, id, n)
	if err != nil {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		c.metrics.failures.WithLabelValues("warm").Inc()
		return nil, joinErr(err, c.release(cctx, id))
	}
	c.log.Info("warm VM ready", "vm", id, "path", path)
	return &warmVM{id: id, ip: ip}, nil
}

// warmIDs lists the warm pool's VM ids.
func (c *Controller) warmIDs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.warmIDsLocked()
}
