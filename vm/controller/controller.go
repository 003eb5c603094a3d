package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/vm"
)

// Controller implements polydev.VMController. Build it with New, call StartServices once (it
// reconciles and starts the background services), and Close at shutdown. (The services' Start and
// Stop carry a suffix because Start and Stop are VMController's VM operations.)
type Controller struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics

	// mu serialises the MaxVMs check with the record insert, and guards warm.
	mu   sync.Mutex
	warm []*warmVM

	portMu    sync.Mutex
	ports     map[string]userPorts // user mode: VM id -> its host ports
	usedPorts map[uint16]string

	goldenMu sync.Mutex
	golden   *vm.SnapshotFiles // nil: no usable snapshot, cold boot
	making   chan struct{}     // non-nil while a golden snapshot is being made; closed when done
	pruned   bool              // the snapshot root was pruned (once per process)
	// guestFailures counts restores in a row whose guest did not answer (see restoreFailed).
	guestFailures int
	image         Image

	refill   chan struct{} // the warm pool lost a VM
	regolden chan struct{} // the golden snapshot was discarded
	warmed   chan string   // tests only: receives each warm VM's id once it is in the pool
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stop     sync.Once
}

var _ polydev.VMController = (*Controller)(nil)

// New returns a Controller with cfg's defaults filled in. It touches nothing on the host.
func New(cfg Config) (*Controller, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Controller{
		cfg: cfg, log: cfg.Log, metrics: newMetrics(),
		ports: map[string]userPorts{}, usedPorts: map[uint16]string{},
		image: cfg.Image, refill: make(chan struct{}, 1), regolden: make(chan struct{}, 1),
	}, nil
}

// StartServices creates the directories, reconciles the host with the records, then starts the
// background services: golden snapshot and warm pool, idle reaper, pool monitor and rebuild
// schedule. It returns once reconciliation is done (its errors are logged, not returned); the
// services run until StopServices, Close or the end of ctx.
func (c *Controller) StartServices(ctx context.Context) error {
	for _, d := range []string{c.cfg.RunDir, c.cfg.VMDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("controller: %w", err)
		}
	}
	if err := c.Reconcile(ctx); err != nil {
		// What could be reclaimed was; the rest is retried at the next start. Refusing to start
		// would only add an outage to a leak.
		c.log.Error("reconcile incomplete", "err", err)
	}
	ctx, c.cancel = context.WithCancel(ctx)
	if c.currentImage().SnapshotDir != "" {
		// A Create that arrives before the boot loop has looked for the saved snapshot waits for it
		// (a second or so) instead of cold-booting; the loop's PrepareGolden adopts this mark.
		c.startMaking()
	}
	c.loop(ctx, "golden-and-warm", 0, c.bootLoop)
	c.loop(ctx, "idle-reaper", c.cfg.ReapInterval, func(ctx context.Context) { c.ReapOnce(ctx) })
	c.loop(ctx, "pool-monitor", c.cfg.MonitorInterval, func(ctx context.Context) { c.MonitorOnce(ctx) })
	if c.cfg.RebuildInterval > 0 && c.cfg.Rebuild != nil {
		c.loop(ctx, "golden-rebuild", c.cfg.RebuildInterval, func(ctx context.Context) {
			if err := c.RebuildOnce(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("golden rebuild failed", "err", err)
			}
		})
	}
	return nil
}

// loop runs fn once per interval (the first time after one interval), or once when interval is 0.
func (c *Controller) loop(ctx context.Context, name string, interval time.Duration, fn func(context.Context)) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.log.Debug("service started", "loop", name, "interval", interval)
		if interval == 0 {
			fn(ctx)
			return
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fn(ctx)
			}
		}
	}()
}

// StopServices ends the background services and waits for them. VMs keep running.
func (c *Controller) StopServices() {
	c.stop.Do(func() {
		if c.cancel != nil {
			c.cancel()
			c.wg.Wait()
		}
	})
}

// Close stops the services, destroys the warm pool and stops every running VM (so that the next
// process finds them stopped, not failed). It is the controller's shutdown step.
func (c *Controller) Close(ctx context.Context) error {
	c.StopServices()
	var errs []error
	c.mu.Lock()
	warm := c.warm
	c.warm = nil
	c.metrics.warm.Set(0)
	c.mu.Unlock()
	for _, w := range warm {
		errs = append(errs, c.release(ctx, w.id))
	}
	vms, err := c.cfg.Store.ListAllVMs(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, v := range vms {
		if v.State != polydev.VMRunning {
			continue
		}
		wg.Go(func() {
			if _, err := c.stopVM(ctx, v); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// cleanupCtx is the context of a failure path: detached from the caller's (a cancelled request
// must not leave half a VM) but bounded.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}

func joinErr(errs ...error) error { return errors.Join(errs...) }

// Egress returns the egress proxy every VM's network leads to, or nil when there is none. The
// auth session service opens a session's policy on it for the VM it took.
func (c *Controller) Egress() *egress.Proxy { return c.cfg.Egress }
