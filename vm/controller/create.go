package controller

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

// Boot paths, the label of the create latency histogram.
const (
	pathWarm    = "warm"
	pathRestore = "restore"
	pathCold    = "cold"
)

// Create implements polydev.VMController.
func (c *Controller) Create(ctx context.Context, u *polydev.User, t polydev.VMType) (*polydev.VM, error) {
	if u == nil {
		return nil, polydev.Errorf(polydev.EUNAUTHORIZED, "sign in to create a VM")
	}
	if !t.Valid() {
		return nil, polydev.Errorf(polydev.EINVALID, "type must be \"browser\" or \"cli\"")
	}
	began := time.Now()
	v, w, err := c.record(ctx, u, t)
	if err != nil {
		return nil, err
	}
	if w != nil {
		c.kickRefill()
		return c.handOut(ctx, v, began)
	}
	if err := c.setState(ctx, v, polydev.VMStarting); err != nil {
		return nil, c.failed(ctx, v, err, "create")
	}
	n, ip, err := c.acquireNet(ctx, v.ID)
	if err != nil {
		return nil, c.failed(ctx, v, mapNetErr(err), "network")
	}
	if ip != nil {
		if err := c.cfg.Store.SetVMIP(ctx, v.ID, ip, c.cfg.Now()); err != nil {
			return nil, c.failed(ctx, v, err, "record ip")
		}
		v.IP = ip
	}
	path, err := c.boot(ctx, v.ID, n)
	if err != nil {
		return nil, c.failed(ctx, v, err, "boot")
	}
	return c.running(ctx, v, path, began)
}

// record checks u's MaxVMs and writes the new record, atomically under c.mu: of 20 racing creates
// with room for 3, exactly 3 get a record. When a warm VM is ready it is taken, and the record gets
// its id.
func (c *Controller) record(ctx context.Context, u *polydev.User, t polydev.VMType) (*polydev.VM, *warmVM, error) {
	limits, err := c.cfg.Store.TierLimitsFor(ctx, u.Tier)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	mine, err := c.cfg.Store.ListVMs(ctx, u.ID)
	if err != nil {
		return nil, nil, err
	}
	var active int64
	for _, v := range mine {
		if v.State != polydev.VMFailed && v.State != polydev.VMDeleted {
			active++
		}
	}
	if limits.MaxVMs <= 0 {
		return nil, nil, polydev.Errorf(polydev.EFORBIDDEN, "the %s tier does not include VMs; upgrade to a tier that does", u.Tier)
	}
	if active >= limits.MaxVMs {
		return nil, nil, polydev.Errorf(polydev.EFORBIDDEN, "the %s tier allows at most %d VMs; delete one first", u.Tier, limits.MaxVMs)
	}
	now := c.cfg.Now()
	v := &polydev.VM{
		ID: c.cfg.NewID(), UserID: u.ID, Type: t, State: polydev.VMCreated, Driver: c.cfg.DriverName,
		VMResources: polydev.VMResources{VCPUs: c.cfg.VCPUs, MemoryMiB: c.cfg.MemoryMiB},
		CreatedAt:   now, UpdatedAt: now, LastActivityAt: now,
	}
	var w *warmVM
	if len(c.warm) > 0 {
		w = c.warm[0]
		v.ID, v.IP = w.id, w.ip
	}
	if err := c.cfg.Store.CreateVM(ctx, v); err != nil {
		return nil, nil, err
	}
	if w != nil {
		c.warm = c.warm[1:]
		c.metrics.warm.Set(float64(len(c.warm)))
	}
	return v, w, nil
}

// handOut turns a warm VM, now recorded as v, into u's running VM.
func (c *Controller) handOut(ctx context.Context, v *polydev.VM, began time.Time) (*polydev.VM, error) {
	if err := c.setState(ctx, v, polydev.VMStarting); err != nil {
		return nil, c.failed(ctx, v, err, "hand-out")
	}
	if st, err := c.cfg.Driver.State(ctx, v.ID); err != nil || st != vm.StateRunning {
		return nil, c.failed(ctx, v, fmt.Errorf("warm VM is %s: %v", st, err), "hand-out")
	}
	return c.running(ctx, v, pathWarm, began)
}

// running records a booted VM as running and counts the create.
func (c *Controller) running(ctx context.Context, v *polydev.VM, path string, began time.Time) (*polydev.VM, error) {
	if err := c.setState(ctx, v, polydev.VMRunning); err != nil {
		return nil, c.failed(ctx, v, err, "record running")
	}
	_ = c.cfg.Store.TouchVM(ctx, v.ID, c.cfg.Now())
	c.metrics.createSeconds.WithLabelValues(path).Observe(time.Since(began).Seconds())
	c.metrics.creates.WithLabelValues(path).Inc()
	c.log.Info("VM running", "vm", v.ID, "user", v.UserID, "path", path, "seconds", time.Since(began).Seconds())
	return c.cfg.Store.VMByID(ctx, v.UserID, v.ID)
}

// setState moves v's record from its current state to to (compare-and-set) and updates v.
func (c *Controller) setState(ctx context.Context, v *polydev.VM, to polydev.VMState) error {
	if err := c.cfg.Store.SetVMState(ctx, v.ID, v.State, to, c.cfg.Now()); err != nil {
		return err
	}
	v.State = to
	return nil
}

// failed is every create/start failure path: it destroys the driver VM, releases the network,
// clears the record's address and records failed. It returns the error for the caller, mapped to
// a client-safe one when it is not already a polydev error.
func (c *Controller) failed(ctx context.Context, v *polydev.VM, cause error, stage string) error {
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	c.metrics.failures.WithLabelValues(stage).Inc()
	c.log.Warn("VM failed", "vm", v.ID, "user", v.UserID, "stage", stage, "err", cause,
		"hypervisor_log", filepath.Join(c.cfg.RunDir, vm.Names(v.ID).LogFile))
	if err := c.releaseKeepLog(ctx, v.ID); err != nil {
		c.log.Error("VM cleanup incomplete; the reconciler retries at the next start", "vm", v.ID, "err", err)
	}
	if v.IP != nil {
		if err := c.cfg.Store.SetVMIP(ctx, v.ID, nil, c.cfg.Now()); err != nil {
			c.log.Warn("clear VM address", "vm", v.ID, "err", err)
		}
		v.IP = nil
	}
	if err := c.cfg.Store.SetVMState(ctx, v.ID, v.State, polydev.VMFailed, c.cfg.Now()); err != nil {
		c.log.Warn("record VM failed", "vm", v.ID, "err", err)
	}
	v.State = polydev.VMFailed
	if polydev.ErrorCode(cause) != polydev.EINTERNAL {
		return cause
	}
	if errors.Is(cause, context.Canceled) {
		return polydev.Wrap(polydev.EUNAVAILABLE, cause, "VM start was cancelled")
	}
	return polydev.Wrap(polydev.EUNAVAILABLE, cause, "the VM could not be started (%s); it was cleaned up, delete it and try again", stage)
}

// release destroys VM id's driver VM and frees every host resource it holds. It is idempotent.
func (c *Controller) release(ctx context.Context, id string) error {
	return joinErr(c.cfg.Driver.Destroy(ctx, id), c.releaseNet(ctx, id), c.removeFiles(id, false))
}

// releaseKeepLog is release for a VM that failed: its hypervisor log (the guest's console) stays
// for diagnosis until the record is deleted or the next start reconciles.
func (c *Controller) releaseKeepLog(ctx context.Context, id string) error {
	return joinErr(c.cfg.Driver.Destroy(ctx, id), c.releaseNet(ctx, id), c.removeFiles(id, true))
}

func mapNetErr(err error) error {
	if errors.Is(err, netpool.ErrExhausted) {
		return polydev.Wrap(polydev.EUNAVAILABLE, err, "no VM address is free right now; try again later")
	}
	return err
}

// spec describes VM id on network n.
func (c *Controller) spec(id string, n vm.Network) vm.Spec {
	img := c.currentImage()
	return vm.Spec{
		ID: id, VCPUs: c.cfg.VCPUs, MemoryMiB: c.cfg.MemoryMiB,
		KernelPath: img.KernelPath, InitrdPath: img.InitrdPath, KernelArgs: img.KernelArgs, RootImage: img.RootImage,
		OverlayPath: filepath.Join(c.cfg.VMDir, vm.Names(id).Overlay),
		Net:         n, SocketDir: c.cfg.RunDir,
	}
}

// boot brings VM id up on n and waits until its agent is healthy: restored from the golden
// snapshot when there is one, cold-booted otherwise or when the restore fails. It returns the path
// taken. On error the driver VM may exist; the caller releases it.
func (c *Controller) boot(ctx context.Context, id string, n vm.Network) (string, error) {
	spec := c.spec(id, n)
	snap, err := c.awaitGolden(ctx)
	if err != nil {
		return "", err
	}
	if snap != nil {
		err := c.restore(ctx, spec, *snap)
		if err == nil {
			c.restoreWorked()
			return pathRestore, nil
		}
		if ctx.Err() != nil {
			return "", err
		}
		c.log.Warn("restore failed; cold-booting", "vm", id, "err", err)
		c.metrics.failures.WithLabelValues("restore").Inc()
		if !errors.Is(err, vm.ErrUnsupported) {
			c.restoreFailed(snap, err)
		}
		if err := c.cfg.Driver.Destroy(ctx, id); err != nil {
			return "", err
		}
	}
	if err := c.cfg.Driver.Create(ctx, spec); err != nil {
		return "", err
	}
	if err := c.cfg.Driver.Start(ctx, id); err != nil {
		return "", err
	}
	return pathCold, c.waitHealthy(ctx, id)
}

// guestError is a restore that the hypervisor completed but whose guest did not answer in time
// (AfterRestore or the health wait): on a loaded host that says little about the snapshot.
type guestError struct{ err error }

func (e guestError) Error() string { return e.err.Error() }
func (e guestError) Unwrap() error { return e.err }

func (c *Controller) restore(ctx context.Context, spec vm.Spec, snap vm.SnapshotFiles) error {
	if err := c.cfg.Driver.Restore(ctx, spec, snap); err != nil {
		return err
	}
	if c.cfg.AfterRestore != nil {
		if err := c.cfg.AfterRestore(ctx, spec.ID, c.dialer(spec.ID)); err != nil {
			return guestError{fmt.Errorf("after restore: %w", err)}
		}
	}
	if err := c.waitHealthy(ctx, spec.ID); err != nil {
		return guestError{err}
	}
	return nil
}

// waitHealthy waits, up to HealthTimeout, for the agent of VM id to report healthy.
func (c *Controller) waitHealthy(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.HealthTimeout)
	defer cancel()
	if err := c.cfg.Health(ctx, c.dialer(id)); err != nil {
		return fmt.Errorf("guest agent not healthy within %v: %w", c.cfg.HealthTimeout, err)
	}
	return nil
}
