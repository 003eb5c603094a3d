package controller

import (
	"context"
	"errors"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
)

// passTimeout bounds one pass of a background service.
const passTimeout = 2 * time.Minute

// ReapOnce is one pass of the idle reaper: every running VM whose last activity is older than
// IdleTimeout is stopped, and every running VM whose hypervisor has died is recorded failed. It
// returns how many VMs it stopped.
func (c *Controller) ReapOnce(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, passTimeout)
	defer cancel()
	vms, err := c.cfg.Store.ListAllVMs(ctx)
	if err != nil {
		c.log.Warn("idle reaper: list VMs", "err", err)
		return 0
	}
	cutoff := c.cfg.Now().Add(-c.cfg.IdleTimeout)
	stopped := 0
	for _, v := range vms {
		if v.State != polydev.VMRunning {
			continue
		}
		if st, err := c.cfg.Driver.State(ctx, v.ID); errors.Is(err, vm.ErrNotFound) || err == nil && st == vm.StateFailed {
			_ = c.failed(ctx, v, errors.New("hypervisor process is gone"), "crashed")
			continue
		}
		if !v.LastActivityAt.Before(cutoff) {
			continue
		}
		if _, err := c.stopVM(ctx, v); err != nil {
			c.log.Warn("idle reaper: stop VM", "vm", v.ID, "err", err)
			continue
		}
		stopped++
		c.metrics.reaped.Inc()
		c.log.Info("idle VM stopped", "vm", v.ID, "user", v.UserID, "idle_since", v.LastActivityAt)
	}
	return stopped
}

// poolWarnRatio is the share of used addresses above which the monitor warns.
const poolWarnRatio = 0.9

// MonitorOnce refreshes the state and pool gauges and warns when the pool is nearly exhausted. It
// returns the pool stats it saw.
func (c *Controller) MonitorOnce(ctx context.Context) polydev.VMPoolStats {
	ctx, cancel := context.WithTimeout(ctx, passTimeout)
	defer cancel()
	if counts, err := c.cfg.Store.CountVMs(ctx); err == nil {
		for s, n := range counts.ByState {
			c.metrics.byState.WithLabelValues(string(s)).Set(float64(n))
		}
	} else {
		c.log.Warn("pool monitor: count VMs", "err", err)
	}
	c.metrics.warm.Set(float64(c.warmCount()))
	ps, err := c.PoolStats(ctx)
	if err != nil {
		c.log.Warn("pool monitor: pool stats", "err", err)
		return ps
	}
	used := ps.Total - ps.Available
	c.metrics.poolUsed.Set(float64(used))
	c.metrics.poolTotal.Set(float64(ps.Total))
	if ps.Total > 0 && float64(used) > poolWarnRatio*float64(ps.Total) {
		c.log.Warn("VM address pool nearly exhausted", "cidr", ps.CIDR, "used", used, "total", ps.Total)
	}
	return ps
}
