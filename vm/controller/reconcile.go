package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
)

// Reconcile makes the host match the records (STYLE rule 7). Records in flight (created, starting,
// running, stopping) whose VM the driver does not run are marked failed; records being deleted are
// finished off; then every hypervisor process, file, namespace and lease that belongs to no live VM
// is removed. Live means: the driver runs it, it is in the warm pool, or (for everything but a
// process) its record is stopped. StartServices calls it before anything else. It must not run while a
// Create, Start or warm boot is in flight (their resources exist before the driver knows the VM).
func (c *Controller) Reconcile(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	records, err := c.cfg.Store.ListAllVMs(ctx)
	if err != nil {
		return fmt.Errorf("controller: reconcile: %w", err)
	}
	running := map[string]bool{} // ids whose hypervisor may keep running
	for _, id := range c.warmIDsLocked() {
		running[id] = true
	}
	keep := map[string]bool{} // ids whose files, namespace and lease stay
	var deleted []string
	for _, v := range records {
		if c.driverRuns(ctx, v.ID) {
			running[v.ID] = true
			continue
		}
		switch v.State {
		case polydev.VMStopped:
			keep[v.ID] = true
		case polydev.VMDeleted:
			deleted = append(deleted, v.ID)
		case polydev.VMFailed:
		default:
			c.markFailed(ctx, v)
		}
	}
	for id := range running {
		keep[id] = true
	}
	var errs []error
	errs = append(errs, c.reclaimProcesses(ctx, running))
	errs = append(errs, c.reclaimHost(ctx, keep))
	for _, id := range deleted {
		if err := c.cfg.Store.DeleteVM(ctx, id); err != nil && polydev.ErrorCode(err) != polydev.ENOTFOUND {
			errs = append(errs, err)
			continue
		}
		c.metrics.reclaimed.WithLabelValues("record").Inc()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("controller: reconcile: %w", err)
	}
	return nil
}

// driverRuns reports whether the driver has VM id in a state that holds a process.
func (c *Controller) driverRuns(ctx context.Context, id string) bool {
	st, err := c.cfg.Driver.State(ctx, id)
	if err != nil {
		return false
	}
	switch st {
	case vm.StateCreated, vm.StateRunning, vm.StatePaused:
		return true
	}
	return false
}

// markFailed records that in-flight VM v did not survive, and clears its address.
func (c *Controller) markFailed(ctx context.Context, v *polydev.VM) {
	now := c.cfg.Now()
	if err := c.cfg.Store.SetVMState(ctx, v.ID, v.State, polydev.VMFailed, now); err != nil {
		c.log.Warn("reconcile: record VM failed", "vm", v.ID, "err", err)
		return
	}
	if v.IP != nil {
		if err := c.cfg.Store.SetVMIP(ctx, v.ID, nil, now); err != nil {
			c.log.Warn("reconcile: clear VM address", "vm", v.ID, "err", err)
		}
	}
	c.metrics.reclaimed.WithLabelValues("failed_record").Inc()
	c.log.Warn("reconcile: VM had no live process; marked failed", "vm", v.ID, "user", v.UserID, "was", v.State)
}

// reclaimProcesses kills every hypervisor process of this controller whose VM is not in running.
func (c *Controller) reclaimProcesses(ctx context.Context, running map[string]bool) error {
	procs, err := c.cfg.Processes.List(ctx)
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	live := keys(running)
	var errs []error
	for _, p := range procs {
		if live[p.Key] {
			continue
		}
		if err := c.cfg.Processes.Kill(ctx, p.PID); err != nil {
			errs = append(errs, fmt.Errorf("kill pid %d: %w", p.PID, err))
			continue
		}
		c.metrics.reclaimed.WithLabelValues("process").Inc()
		c.log.Info("reconcile: orphan hypervisor killed", "pid", p.PID, "key", p.Key)
	}
	return errors.Join(errs...)
}

// reclaimHost removes files, namespaces and leases of every VM not in keep.
func (c *Controller) reclaimHost(ctx context.Context, keep map[string]bool) error {
	ids := make([]string, 0, len(keep))
	for id := range keep {
		ids = append(ids, id)
	}
	var errs []error
	n, err := c.orphanFiles(ids)
	errs = append(errs, err)
	c.metrics.reclaimed.WithLabelValues("file").Add(float64(n))
	if n > 0 {
		c.log.Info("reconcile: orphan files removed", "count", n)
	}
	if c.cfg.NetMode == vm.NetTAP {
		names, err := c.cfg.Network.List(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("list networks: %w", err))
		}
		for _, name := range vm.Orphans(names, ids) {
			if err := c.cfg.Network.Remove(ctx, name); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
				continue
			}
			c.metrics.reclaimed.WithLabelValues("network").Inc()
			c.log.Info("reconcile: orphan network removed", "name", name)
		}
		leases, err := c.cfg.Pool.Reclaim(ctx, keep)
		errs = append(errs, err)
		c.metrics.reclaimed.WithLabelValues("lease").Add(float64(len(leases)))
		for _, l := range leases {
			c.log.Info("reconcile: orphan lease released", "ip", l.IP, "vm", l.VMID)
		}
	}
	return errors.Join(errs...)
}

// keys maps VM ids to their name keys.
func keys(ids map[string]bool) map[string]bool {
	out := make(map[string]bool, len(ids))
	for id := range ids {
		out[vm.Names(id).Key] = true
	}
	return out
}

func (c *Controller) warmIDsLocked() []string {
	ids := make([]string, len(c.warm))
	for i, w := range c.warm {
		ids[i] = w.id
	}
	return ids
}
