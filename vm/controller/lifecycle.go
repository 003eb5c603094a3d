package controller

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
)

// owned returns u's VM id; another user's id is ENOTFOUND like a made-up one.
func (c *Controller) owned(ctx context.Context, u *polydev.User, id string) (*polydev.VM, error) {
	if u == nil || !polydev.ValidID(id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "VM not found")
	}
	return c.cfg.Store.VMByID(ctx, u.ID, id)
}

func busy(v *polydev.VM) error {
	return polydev.Errorf(polydev.ECONFLICT, "VM is %s; try again in a moment", v.State)
}

// Start implements polydev.VMController: a stopped VM boots again. Starting a running VM returns
// it unchanged. When the driver still has the VM (same process), its disk survives; after a
// controller restart the driver knows it no more and the VM boots afresh from the golden image.
func (c *Controller) Start(ctx context.Context, u *polydev.User, id string) (*polydev.VM, error) {
	v, err := c.owned(ctx, u, id)
	if err != nil {
		return nil, err
	}
	switch v.State {
	case polydev.VMRunning:
		return v, nil
	case polydev.VMStopped:
	case polydev.VMFailed:
		return nil, polydev.Errorf(polydev.ECONFLICT, "VM has failed; delete it and create a new one")
	default:
		return nil, busy(v)
	}
	began := time.Now()
	if err := c.setState(ctx, v, polydev.VMStarting); err != nil {
		return nil, err
	}
	path, err := c.restart(ctx, v)
	if err != nil {
		return nil, c.failed(ctx, v, err, "start")
	}
	return c.running(ctx, v, path, began)
}

// restart boots stopped VM v: the driver's own Start when it still knows the VM, a fresh boot on a
// new network otherwise.
func (c *Controller) restart(ctx context.Context, v *polydev.VM) (string, error) {
	st, err := c.cfg.Driver.State(ctx, v.ID)
	if err == nil && st == vm.StateStopped {
		if err := c.cfg.Driver.Start(ctx, v.ID); err != nil {
			return "", err
		}
		return pathCold, c.waitHealthy(ctx, v.ID)
	}
	if err != nil && !errors.Is(err, vm.ErrNotFound) {
		return "", err
	}
	if err := c.release(ctx, v.ID); err != nil {
		return "", err
	}
	n, ip, err := c.acquireNet(ctx, v.ID)
	if err != nil {
		return "", mapNetErr(err)
	}
	if ip != nil {
		if err := c.cfg.Store.SetVMIP(ctx, v.ID, ip, c.cfg.Now()); err != nil {
			return "", err
		}
		v.IP = ip
	}
	return c.boot(ctx, v.ID, n)
}

// Stop implements polydev.VMController: the guest shuts down and the VM keeps its disk, address
// and ports. Stopping a stopped VM returns it unchanged.
func (c *Controller) Stop(ctx context.Context, u *polydev.User, id string) (*polydev.VM, error) {
	v, err := c.owned(ctx, u, id)
	if err != nil {
		return nil, err
	}
	switch v.State {
	case polydev.VMStopped:
		return v, nil
	case polydev.VMRunning:
	case polydev.VMFailed:
		return nil, polydev.Errorf(polydev.ECONFLICT, "VM has failed; delete it and create a new one")
	default:
		return nil, busy(v)
	}
	return c.stopVM(ctx, v)
}

// stopVM moves running VM v through stopping to stopped; a driver failure records failed.
func (c *Controller) stopVM(ctx context.Context, v *polydev.VM) (*polydev.VM, error) {
	if err := c.setState(ctx, v, polydev.VMStopping); err != nil {
		return nil, err
	}
	err := c.cfg.Driver.Stop(ctx, v.ID)
	if errors.Is(err, vm.ErrNotFound) {
		err = nil // nothing runs: stopped already
	}
	if err != nil {
		return nil, c.failed(ctx, v, err, "stop")
	}
	if err := c.setState(ctx, v, polydev.VMStopped); err != nil {
		return nil, err
	}
	c.log.Info("VM stopped", "vm", v.ID, "user", v.UserID)
	return c.cfg.Store.VMByID(ctx, v.UserID, v.ID)
}

// Delete implements polydev.VMController. The record moves to deleted first, so a crash half-way
// leaves a record the reconciler finishes; it goes once every resource is released.
func (c *Controller) Delete(ctx context.Context, u *polydev.User, id string) error {
	v, err := c.owned(ctx, u, id)
	if err != nil {
		return err
	}
	switch v.State {
	case polydev.VMStarting, polydev.VMStopping, polydev.VMDeleted:
		return busy(v)
	}
	if err := c.setState(ctx, v, polydev.VMDeleted); err != nil {
		return err
	}
	return c.finishDelete(ctx, v.ID)
}

func (c *Controller) finishDelete(ctx context.Context, id string) error {
	ctx, cancel := cleanupCtx(ctx)
	defer cancel()
	if err := c.release(ctx, id); err != nil {
		return polydev.Wrap(polydev.EUNAVAILABLE, err, "the VM's resources could not all be released; it will be cleaned up later")
	}
	if err := c.cfg.Store.DeleteVM(ctx, id); err != nil && polydev.ErrorCode(err) != polydev.ENOTFOUND {
		return err
	}
	c.log.Info("VM deleted", "vm", id)
	return nil
}

// PoolStats implements polydev.VMController. In user mode there is no pool: zero values.
func (c *Controller) PoolStats(ctx context.Context) (polydev.VMPoolStats, error) {
	if c.cfg.NetMode != vm.NetTAP {
		return polydev.VMPoolStats{}, nil
	}
	st, err := c.cfg.Pool.Stats(ctx)
	if err != nil {
		return polydev.VMPoolStats{}, err
	}
	return polydev.VMPoolStats{CIDR: st.CIDR.String(), Total: st.Total, Available: st.Available}, nil
}

// Dial implements polydev.VMController.
func (c *Controller) Dial(ctx context.Context, u *polydev.User, id string, port uint16) (net.Conn, error) {
	if port != polydev.VMPortAgent && port != polydev.VMPortNoVNC {
		return nil, polydev.Errorf(polydev.EINVALID, "only ports %d and %d of a VM can be reached", polydev.VMPortAgent, polydev.VMPortNoVNC)
	}
	v, err := c.owned(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if v.State != polydev.VMRunning {
		return nil, polydev.Errorf(polydev.ECONFLICT, "VM is %s, not running", v.State)
	}
	conn, err := c.dialGuest(ctx, id, port)
	if err != nil {
		return nil, polydev.Wrap(polydev.EUNAVAILABLE, err, "the VM does not answer on port %d", port)
	}
	if err := c.cfg.Store.TouchVM(ctx, id, c.cfg.Now()); err != nil {
		c.log.Warn("record VM activity", "vm", id, "err", err)
	}
	return conn, nil
}
