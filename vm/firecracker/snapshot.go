package firecracker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/polydev/polydev/vm"
)

// Snapshot implements vm.Driver: Paused, snapshot/create (Full), then Resumed if it was running.
// The resume runs even when ctx has ended, so a cancelled snapshot never leaves a guest frozen.
func (d *Driver) Snapshot(ctx context.Context, id string, snap vm.SnapshotFiles) error {
	if err := checkSnapshot(snap); err != nil {
		return err
	}
	return d.Paused(ctx, id, nil, func(m *machine) error {
		return m.X.api.CreateSnapshot(ctx, SnapshotCreateParams{
			MemFilePath:  snap.MemPath,
			SnapshotPath: snap.StatePath,
			SnapshotType: SnapshotFull,
		})
	})
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
	m, err := d.VMs.Add(spec)
	if err != nil {
		return err
	}
	defer m.Mu.Unlock()
	if err := d.launch(ctx, m); err != nil {
		d.VMs.Forget(m)
		return err
	}
	load := SnapshotLoadParams{
		SnapshotPath: snap.StatePath,
		MemBackend:   &MemoryBackend{BackendType: BackendFile, BackendPath: snap.MemPath},
	}
	if tap := spec.Net.TAP; tap != nil {
		load.NetworkOverrides = []NetworkOverride{{IfaceID: IfaceID, HostDevName: tap.Name}}
	}
	err = m.X.api.LoadSnapshot(ctx, load)
	if err == nil {
		err = m.X.api.Resume(ctx)
	}
	if err != nil {
		d.VMs.Forget(m)
		return errors.Join(err, d.halt(ctx, m, 0))
	}
	m.State = vm.StateRunning
	d.cfg.Log.Info("firecracker VM restored", "vm", spec.ID, "pid", m.Proc.Pid())
	return nil
}

func checkSnapshot(s vm.SnapshotFiles) error {
	if !filepath.IsAbs(s.StatePath) || !filepath.IsAbs(s.MemPath) {
		return fmt.Errorf("%w: snapshot paths must be absolute (state %q, memory %q)", vm.ErrInvalidSpec, s.StatePath, s.MemPath)
	}
	return nil
}
