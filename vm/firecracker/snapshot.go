package firecracker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/polydev/polydev/vm"
)

// Snapshot implements vm.Driver: Paused, snapshot/create (Full), then Resumed if it was running.
// The resume runs even when ctx has ended, so a cancelled snapshot never leaves a guest frozen.
func (d *Driver) Snapshot(ctx context.Context, id string, snap vm.SnapshotFiles) error {
	if err := checkSnapshot(snap); err != nil {
		return err
	}
	m, err := d.lock(id)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	was := m.observe()
	if was != vm.StateRunning && was != vm.StatePaused {
		return fmt.Errorf("%w: cannot snapshot VM %s in state %s", vm.ErrInvalidState, id, was)
	}
	if was == vm.StateRunning {
		if err := m.api.Pause(ctx); err != nil {
			return err
		}
		m.state = vm.StatePaused
	}
	createErr := m.api.CreateSnapshot(ctx, SnapshotCreateParams{
		MemFilePath:  snap.MemPath,
		SnapshotPath: snap.StatePath,
		SnapshotType: SnapshotFull,
	})
	if was != vm.StateRunning {
		return createErr
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	resumeErr := m.api.Resume(rctx)
	if resumeErr == nil {
		m.state = vm.StateRunning
	}
	return errors.Join(createErr, resumeErr)
}

// Restore implements vm.Driver: a fresh process, snapshot/load with a File memory backend (and the
// VM's own TAP device in place of the snapshotted one), then Resumed.
//
// Firecracker reopens the drives at the paths recorded in the snapshot; it has no drive override.
// Clones of one golden snapshot therefore need those paths to resolve to each clone's own overlay,
// which the jailer's per-VM chroot (or a per-VM mount namespace) provides on production hosts.
func (d *Driver) Restore(ctx context.Context, spec vm.Spec, snap vm.SnapshotFiles) error {
	if err := checkSpec(spec); err != nil {
		return err
	}
	if err := checkSnapshot(snap); err != nil {
		return err
	}
	m, err := d.add(spec)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	if err := d.launch(ctx, m); err != nil {
		d.forget(m)
		return err
	}
	load := SnapshotLoadParams{
		SnapshotPath: snap.StatePath,
		MemBackend:   &MemoryBackend{BackendType: BackendFile, BackendPath: snap.MemPath},
	}
	if tap := spec.Net.TAP; tap != nil {
		load.NetworkOverrides = []NetworkOverride{{IfaceID: IfaceID, HostDevName: tap.Name}}
	}
	err = m.api.LoadSnapshot(ctx, load)
	if err == nil {
		err = m.api.Resume(ctx)
	}
	if err != nil {
		d.forget(m)
		return errors.Join(err, d.halt(ctx, m, 0))
	}
	m.state = vm.StateRunning
	d.cfg.Log.Info("firecracker VM restored", "vm", spec.ID, "pid", m.proc.Pid())
	return nil
}

func checkSnapshot(s vm.SnapshotFiles) error {
	if !filepath.IsAbs(s.StatePath) || !filepath.IsAbs(s.MemPath) {
		return fmt.Errorf("%w: snapshot paths must be absolute (state %q, memory %q)", vm.ErrInvalidSpec, s.StatePath, s.MemPath)
	}
	return nil
}
