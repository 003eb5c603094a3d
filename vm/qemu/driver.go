package qemu

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/vmproc"
)

// Create implements vm.Driver: it makes the qcow2 overlay, starts QEMU frozen (-S) and connects QMP.
// The guest boots at Start. An overlay left at the VM's path by a crashed predecessor is replaced.
func (d *Driver) Create(ctx context.Context, spec vm.Spec) error {
	req := ArgsRequest{Spec: spec}
	if d.cfg.MemoryDir != "" {
		req.MemPath, req.MemShared = filepath.Join(d.cfg.MemoryDir, spec.Names().MemFile), true
	}
	if _, err := d.args(ctx, req); err != nil { // refuse a bad spec before touching anything
		return err
	}
	m, err := d.VMs.Add(spec)
	if err != nil {
		return err
	}
	defer m.Mu.Unlock()
	m.X.memPath = req.MemPath
	if err := d.prepare(ctx, m, req); err != nil {
		d.VMs.Forget(m)
		return errors.Join(err, d.halt(ctx, m, 0), vmproc.RemoveFiles(spec.OverlayPath, m.X.memPath))
	}
	m.State = vm.StateCreated
	d.cfg.Log.Info("qemu VM created", "vm", spec.ID, "pid", m.Proc.Pid(), "accel", d.Accel(ctx))
	return nil
}

// prepare makes the overlay and launches QEMU for a new VM. Files named from the VM's id that a
// crashed predecessor left behind are replaced; a snapshot's memory file (not shared) is never
// touched.
func (d *Driver) prepare(ctx context.Context, m *machine, req ArgsRequest) error {
	if err := vmproc.RemoveFiles(m.Spec.OverlayPath, m.X.memPath); err != nil {
		return err
	}
	if m.Spec.OverlayPath != "" {
		if err := CreateOverlay(ctx, d.cfg.Runner, d.cfg.ImgBinary, m.Spec.RootImage, m.Spec.OverlayPath); err != nil {
			return err
		}
	}
	return d.launch(ctx, m, req)
}

// qemuVMM is the QEMU side of the shared lifecycle: QMP commands.
type qemuVMM struct{ d *Driver }

// Boot and Resume are both cont: a created VM's QEMU waits frozen (-S) for its first one.
func (v qemuVMM) Boot(ctx context.Context, m *machine) error   { return m.X.qmp.Cont(ctx) }
func (v qemuVMM) Resume(ctx context.Context, m *machine) error { return m.X.qmp.Cont(ctx) }
func (v qemuVMM) Pause(ctx context.Context, m *machine) error  { return m.X.qmp.Stop(ctx) }

// ColdBoot starts a stopped VM again: new process, same Spec, same overlay; a restored VM boots from
// its kernel like any other. On failure the VM stays stopped, so Start can be retried.
func (v qemuVMM) ColdBoot(ctx context.Context, m *machine) error {
	err := v.d.launch(ctx, m, ArgsRequest{Spec: m.Spec, MemPath: m.X.memPath, MemShared: m.X.memPath != ""})
	if err == nil {
		err = m.X.qmp.Cont(ctx)
	}
	if err != nil {
		return errors.Join(err, v.d.halt(ctx, m, 0))
	}
	return nil
}

// Powerdown presses the ACPI button (system_powerdown); QEMU exits with the guest.
func (v qemuVMM) Powerdown(ctx context.Context, m *machine) error {
	return m.X.qmp.SystemPowerdown(ctx)
}

func (v qemuVMM) Halt(ctx context.Context, m *machine, grace time.Duration) error {
	return v.d.halt(ctx, m, grace)
}

// Files are the log, the overlay and the shared memory file (QMP socket and pid file go with Halt).
func (v qemuVMM) Files(m *machine) []string {
	return []string{m.LogPath(), m.Spec.OverlayPath, m.X.memPath}
}

// Query asks QEMU (query-status).
func (v qemuVMM) Query(ctx context.Context, m *machine) (vm.State, error) {
	s, err := m.X.qmp.QueryStatus(ctx)
	if err != nil {
		return m.State, err
	}
	return stateOf(s.Status, m.State)
}

// args resolves the accelerator and host frequency into req and builds the command line.
func (d *Driver) args(ctx context.Context, req ArgsRequest) ([]string, error) {
	if err := req.Spec.Validate(); err != nil {
		return nil, err
	}
	req.Accel = d.Accel(ctx)
	req.HostMHz = max(d.cfg.HostMHz, 0)
	return Args(req)
}

// launch starts a process for m and connects QMP. A stale socket left by a crashed predecessor is
// removed first.
func (d *Driver) launch(ctx context.Context, m *machine, req ArgsRequest) error {
	args, err := d.args(ctx, req)
	if err != nil {
		return err
	}
	if err := vmproc.RemoveFiles(m.Spec.SocketPath(), m.PIDPath()); err != nil {
		return err
	}
	proc, err := d.cfg.Launcher.Launch(ctx, LaunchRequest{
		Names:      m.Spec.Names(),
		Args:       args,
		SocketPath: m.Spec.SocketPath(),
		PIDPath:    m.PIDPath(),
		LogPath:    m.LogPath(),
		Netns:      vmproc.Netns(m.Spec),
	})
	if err != nil {
		return err
	}
	m.Proc, m.X.qmp, m.Stopping = proc, nil, false
	c, err := dialQMP(ctx, m.Spec.SocketPath(), proc, d.cfg.StartTimeout)
	if err != nil {
		return errors.Join(fmt.Errorf("%w (log: %s)", err, m.LogPath()), d.halt(ctx, m, 0))
	}
	m.X.qmp = c
	return nil
}

// halt makes sure m's process is gone (after up to grace for it to leave on its own), closes QMP
// and removes the socket and pid file.
func (d *Driver) halt(ctx context.Context, m *machine, grace time.Duration) error {
	m.Stopping = true
	if m.Proc != nil {
		if err := waitExit(ctx, m.Proc, grace); err != nil {
			return err
		}
	}
	if m.X.qmp != nil {
		m.X.qmp.Close()
		m.X.qmp = nil
	}
	return vmproc.RemoveFiles(m.Spec.SocketPath(), m.PIDPath())
}
