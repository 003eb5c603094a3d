package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/vmproc"
)

// ignoreShared makes migration skip RAM blocks backed by a shared named file: the memory file is
// the snapshot's RAM, and only device state goes into the stream (save 16 ms instead of 1 s).
const ignoreShared = "x-ignore-shared"

// pollInterval is how often query-migrate is asked while a migration runs.
const pollInterval = 5 * time.Millisecond

// Snapshot implements vm.Driver for VMs created with Config.MemoryDir: stop, x-ignore-shared,
// max-bandwidth, migrate into StatePath (getfd + "fd:"), poll query-migrate, copy the shared memory
// file to MemPath, then cont if it was running. The cont runs even when ctx has ended or the snapshot
// failed, so a snapshot never leaves a guest frozen. Other VMs (a restored clone maps its memory
// privately) give vm.ErrUnsupported.
func (d *Driver) Snapshot(ctx context.Context, id string, snap vm.SnapshotFiles) error {
	if err := checkSnapshot(snap); err != nil {
		return err
	}
	check := func(m *machine) error {
		if m.X.memPath == "" {
			return fmt.Errorf("%w: VM %s has no shared memory file (Config.MemoryDir)", vm.ErrUnsupported, id)
		}
		return nil
	}
	return d.Paused(ctx, id, check, func(m *machine) error { return d.save(ctx, m, snap) })
}

// save writes the device state with a migration and the RAM by copying the memory file; the guest
// is stopped, so the file does not change under the copy.
func (d *Driver) save(ctx context.Context, m *machine, snap vm.SnapshotFiles) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.MigrateTimeout)
	defer cancel()
	if err := m.X.qmp.MigrateSetCapabilities(ctx, map[string]bool{ignoreShared: true}); err != nil {
		return err
	}
	if err := m.X.qmp.MigrateSetMaxBandwidth(ctx, d.cfg.MigrateBandwidth); err != nil {
		return err
	}
	if err := migrateToFile(ctx, m.X.qmp, snap.StatePath); err != nil {
		return err
	}
	if err := m.X.qmp.WaitMigration(ctx, pollInterval); err != nil {
		var failed *MigrationError
		if !errors.As(err, &failed) { // timed out or cancelled: do not leave it running under cont
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			err = errors.Join(err, m.X.qmp.Execute(cctx, "migrate_cancel", nil, nil))
		}
		return err
	}
	if err := copyFile(m.X.memPath, snap.MemPath); err != nil {
		return err
	}
	if snap.DiskPath == "" || m.Spec.OverlayPath == "" {
		return nil
	}
	// The completed migration flushed and inactivated the disk, and the guest is stopped until
	// cont: the overlay is consistent with the saved device state and memory while it is copied.
	return copyFile(m.Spec.OverlayPath, snap.DiskPath)
}

// Restore implements vm.Driver: a fresh overlay and process started with `-incoming defer` and its
// RAM mapped privately (copy-on-write, share=off) from MemPath, then x-ignore-shared,
// migrate-incoming from StatePath (getfd + "fd:"), query-migrate until completed, and cont.
//
// The RAM size comes from MemPath's size and wins over spec.MemoryMiB. QEMU cannot read the vCPU
// count or devices out of a snapshot, so spec.VCPUs and the network mode must match the snapshotted
// VM's; a mismatch makes the migration fail and Restore return its error. The snapshotted guest's
// page cache describes the snapshotted VM's disk: with snap.DiskPath the clone's overlay is backed by
// that disk layer, without it the snapshotted VM must not have written its disk.
func (d *Driver) Restore(ctx context.Context, spec vm.Spec, snap vm.SnapshotFiles) error {
	if err := checkSnapshot(snap); err != nil {
		return err
	}
	memMiB, err := snapshotMemoryMiB(snap.MemPath)
	if err != nil {
		return err
	}
	if snap.DiskPath != "" {
		// The clone's overlay falls through to the snapshotted VM's disk layer, which is what its
		// restored page cache describes (and, below that, to the golden image).
		spec.RootImage = snap.DiskPath
	}
	req := ArgsRequest{Spec: spec, MemPath: snap.MemPath, MemoryMiB: memMiB, Incoming: true}
	if _, err := d.args(ctx, req); err != nil {
		return err
	}
	m, err := d.VMs.Add(spec)
	if err != nil {
		return err
	}
	defer m.Mu.Unlock()
	err = d.prepare(ctx, m, req)
	if err == nil {
		err = d.load(ctx, m, snap)
	}
	if err != nil {
		d.VMs.Forget(m)
		return errors.Join(err, d.halt(ctx, m, 0), vmproc.RemoveFiles(spec.OverlayPath))
	}
	m.State = vm.StateRunning
	d.cfg.Log.Info("qemu VM restored", "vm", spec.ID, "pid", m.Proc.Pid())
	return nil
}

func (d *Driver) load(ctx context.Context, m *machine, snap vm.SnapshotFiles) error {
	mctx, cancel := context.WithTimeout(ctx, d.cfg.MigrateTimeout)
	defer cancel()
	if err := m.X.qmp.MigrateSetCapabilities(mctx, map[string]bool{ignoreShared: true}); err != nil {
		return err
	}
	if err := migrateFromFile(mctx, m.X.qmp, snap.StatePath); err != nil {
		return err
	}
	if err := m.X.qmp.WaitMigration(mctx, pollInterval); err != nil {
		return err
	}
	return m.X.qmp.Cont(ctx)
}

// stateFD is the name the state file's descriptor has inside QEMU (getfd), hence the "fd:" URI.
//
// QEMU 7.2 has no "file:" migration URI (it came in 8.2). Of what it has, "exec:" would put the
// path into a shell command line, and a unix socket would need a copying goroutine; handing QEMU an
// open descriptor keeps paths out of every string QEMU parses, and the file is created by the
// driver with mode 0600, whatever QEMU's umask and working directory.
const stateFD = "polydev-vmstate"

// migrateToFile starts the outgoing migration into a new file at path.
func migrateToFile(ctx context.Context, c *Client, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("qemu: snapshot state: %w", err)
	}
	defer f.Close() // QEMU writes through its own duplicate
	if err := c.GetFD(ctx, stateFD, f); err != nil {
		return err
	}
	if err := c.Migrate(ctx, "fd:"+stateFD); err != nil {
		return errors.Join(err, closeFD(ctx, c))
	}
	return nil
}

// migrateFromFile starts loading the incoming migration from the file at path.
func migrateFromFile(ctx context.Context, c *Client, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("qemu: snapshot state: %w", err)
	}
	defer f.Close()
	if err := c.GetFD(ctx, stateFD, f); err != nil {
		return err
	}
	if err := c.MigrateIncoming(ctx, "fd:"+stateFD); err != nil {
		return errors.Join(err, closeFD(ctx, c))
	}
	return nil
}

// closeFD drops the descriptor a failed migrate command did not take. QEMU may already have taken
// it before failing, so "not found" is not an error.
func closeFD(ctx context.Context, c *Client) error {
	err := c.CloseFD(context.WithoutCancel(ctx), stateFD)
	if _, ok := errors.AsType[*QMPError](err); ok {
		return nil
	}
	return err
}

func snapshotMemoryMiB(path string) (int, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("qemu: snapshot memory: %w", err)
	}
	const mib = 1 << 20
	if fi.Size()%mib != 0 || fi.Size()/mib < vm.MinMemoryMiB || fi.Size()/mib > vm.MaxMemoryMiB {
		return 0, fmt.Errorf("%w: snapshot memory %s is %d bytes, not a whole guest RAM size in MiB", vm.ErrInvalidSpec, path, fi.Size())
	}
	return int(fi.Size() / mib), nil
}

func checkSnapshot(s vm.SnapshotFiles) error {
	if !filepath.IsAbs(s.StatePath) || !filepath.IsAbs(s.MemPath) || s.DiskPath != "" && !filepath.IsAbs(s.DiskPath) {
		return fmt.Errorf("%w: snapshot paths must be absolute (state %q, memory %q, disk %q)", vm.ErrInvalidSpec, s.StatePath, s.MemPath, s.DiskPath)
	}
	return nil
}
