package qemu

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/polydev/polydev/vm"
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
	m, err := d.add(spec)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	m.memPath = req.MemPath
	if err := d.prepare(ctx, m, req); err != nil {
		d.forget(m)
		return errors.Join(err, d.halt(ctx, m, 0), removeFiles(spec.OverlayPath, m.memPath))
	}
	m.state = vm.StateCreated
	d.cfg.Log.Info("qemu VM created", "vm", spec.ID, "pid", m.proc.Pid(), "accel", d.Accel(ctx))
	return nil
}

// prepare makes the overlay and launches QEMU for a new VM. Files named from the VM's id that a
// crashed predecessor left behind are replaced; a snapshot's memory file (not shared) is never
// touched.
func (d *Driver) prepare(ctx context.Context, m *machine, req ArgsRequest) error {
	if err := removeFiles(m.spec.OverlayPath, m.memPath); err != nil {
		return err
	}
	if m.spec.OverlayPath != "" {
		if err := CreateOverlay(ctx, d.cfg.Runner, d.cfg.ImgBinary, m.spec.RootImage, m.spec.OverlayPath); err != nil {
			return err
		}
	}
	return d.launch(ctx, m, req)
}

// Start implements vm.Driver: cont for a created or paused VM, a new frozen process then cont for a
// stopped one.
func (d *Driver) Start(ctx context.Context, id string) error {
	m, err := d.lock(id)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	switch m.observe() {
	case vm.StateRunning:
		return nil
	case vm.StateCreated, vm.StatePaused:
		if err := m.qmp.Cont(ctx); err != nil {
			return err
		}
	case vm.StateStopped:
		if err := d.coldBoot(ctx, m); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: cannot start VM %s in state %s", vm.ErrInvalidState, id, m.state)
	}
	m.state = vm.StateRunning
	d.cfg.Log.Info("qemu VM running", "vm", id)
	return nil
}

// coldBoot starts a stopped VM again: new process, same Spec, same overlay; a restored VM boots from
// its kernel like any other. On failure the VM stays stopped, so Start can be retried.
func (d *Driver) coldBoot(ctx context.Context, m *machine) error {
	err := d.launch(ctx, m, ArgsRequest{Spec: m.spec, MemPath: m.memPath, MemShared: m.memPath != ""})
	if err == nil {
		err = m.qmp.Cont(ctx)
	}
	if err != nil {
		return errors.Join(err, d.halt(ctx, m, 0))
	}
	return nil
}

// Stop implements vm.Driver: system_powerdown (the ACPI button), up to StopTimeout or ctx's end for
// QEMU to exit with the guest, then SIGKILL. A created VM has no guest yet and is killed at once.
func (d *Driver) Stop(ctx context.Context, id string) error {
	m, err := d.lock(id)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	switch m.observe() {
	case vm.StateStopped:
		return nil
	case vm.StateFailed:
		return fmt.Errorf("%w: VM %s has failed; destroy it", vm.ErrInvalidState, id)
	case vm.StateCreated:
		if err := d.halt(ctx, m, 0); err != nil {
			return err
		}
	case vm.StatePaused, vm.StateRunning:
		m.stopping = true
		if m.state == vm.StatePaused {
			if err := m.qmp.Cont(ctx); err != nil { // a paused guest cannot see the button
				d.cfg.Log.Warn("qemu cont before stop failed", "vm", id, "err", err)
			}
		}
		if err := m.qmp.SystemPowerdown(ctx); err != nil {
			d.cfg.Log.Warn("qemu system_powerdown failed; killing", "vm", id, "err", err)
		}
		if err := d.halt(ctx, m, d.cfg.StopTimeout); err != nil {
			return err
		}
	}
	m.state = vm.StateStopped
	d.cfg.Log.Info("qemu VM stopped", "vm", id)
	return nil
}

// Destroy implements vm.Driver: kill, then remove the QMP socket, pid file, log, overlay and shared
// memory file.
func (d *Driver) Destroy(ctx context.Context, id string) error {
	m, err := d.lock(id)
	if errors.Is(err, vm.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	if err := d.halt(ctx, m, 0); err != nil {
		m.state = vm.StateFailed
		return err
	}
	if err := removeFiles(m.logPath(), m.spec.OverlayPath, m.memPath); err != nil {
		m.state = vm.StateFailed // kept, so that Destroy can be retried
		return err
	}
	d.forget(m)
	d.cfg.Log.Info("qemu VM destroyed", "vm", id)
	return nil
}

// State implements vm.Driver, asking QEMU (query-status) while its process is alive.
func (d *Driver) State(ctx context.Context, id string) (vm.State, error) {
	m, err := d.lock(id)
	if err != nil {
		return "", err
	}
	defer m.mu.Unlock()
	if st := m.observe(); st == vm.StateStopped || st == vm.StateFailed {
		return st, nil
	}
	s, err := m.qmp.QueryStatus(ctx)
	if err != nil {
		if st := m.observe(); st == vm.StateFailed {
			return st, nil // it died while we asked
		}
		return m.state, err
	}
	st, err := stateOf(s.Status, m.state)
	if err != nil {
		return m.state, err
	}
	m.state = st
	return st, nil
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
	if err := removeFiles(m.spec.SocketPath(), m.pidPath()); err != nil {
		return err
	}
	proc, err := d.cfg.Launcher.Launch(ctx, LaunchRequest{
		Names:      m.spec.Names(),
		Args:       args,
		SocketPath: m.spec.SocketPath(),
		PIDPath:    m.pidPath(),
		LogPath:    m.logPath(),
		Netns:      netns(m.spec),
	})
	if err != nil {
		return err
	}
	m.proc, m.qmp, m.stopping = proc, nil, false
	c, err := dialQMP(ctx, m.spec.SocketPath(), proc, d.cfg.StartTimeout)
	if err != nil {
		return errors.Join(fmt.Errorf("%w (log: %s)", err, m.logPath()), d.halt(ctx, m, 0))
	}
	m.qmp = c
	return nil
}

// halt makes sure m's process is gone (after up to grace for it to leave on its own), closes QMP
// and removes the socket and pid file.
func (d *Driver) halt(ctx context.Context, m *machine, grace time.Duration) error {
	m.stopping = true
	if m.proc != nil {
		if err := waitExit(ctx, m.proc, grace); err != nil {
			return err
		}
	}
	if m.qmp != nil {
		m.qmp.Close()
		m.qmp = nil
	}
	return removeFiles(m.spec.SocketPath(), m.pidPath())
}

func netns(spec vm.Spec) string {
	if spec.Net.TAP != nil {
		return spec.Net.TAP.Netns
	}
	return ""
}
