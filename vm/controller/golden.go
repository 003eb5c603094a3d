package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/polydev/polydev/vm"
)

// Golden snapshot file names inside a snapshot directory (see snapstore.go).
const (
	snapState = "vmstate"
	snapMem   = "mem"
	snapDisk  = "disk.qcow2" // the golden VM's disk layer; clones' overlays are backed by it
)

func snapshotFiles(dir string) vm.SnapshotFiles {
	return vm.SnapshotFiles{StatePath: filepath.Join(dir, snapState), MemPath: filepath.Join(dir, snapMem),
		DiskPath: filepath.Join(dir, snapDisk)}
}

func (c *Controller) currentImage() Image {
	c.goldenMu.Lock()
	defer c.goldenMu.Unlock()
	return c.image
}

// goldenSnapshot returns the snapshot to restore from, nil when VMs cold-boot.
func (c *Controller) goldenSnapshot() *vm.SnapshotFiles {
	c.goldenMu.Lock()
	defer c.goldenMu.Unlock()
	return c.golden
}

// guestFailuresToDiscard is how many restores in a row whose guest did not answer (guestError)
// discard the golden snapshot. A driver's failed Restore discards it at once: the hypervisor
// refused the snapshot. A guest that misses its bound once may only be slow on a loaded host (a
// 30 s /sync bound passed at load average 30 on 2 cores), and remaking the snapshot there would
// cost minutes of cold boots for nothing; a snapshot whose guests never answer still goes.
const guestFailuresToDiscard = 3

// restoreFailed counts a failed restore from snap and discards snap when the failure says so.
func (c *Controller) restoreFailed(snap *vm.SnapshotFiles, err error) {
	if _, guest := errors.AsType[guestError](err); guest {
		c.goldenMu.Lock()
		c.guestFailures++
		n := c.guestFailures
		c.goldenMu.Unlock()
		if n < guestFailuresToDiscard {
			c.log.Warn("restored guest did not answer; the golden snapshot is kept", "failures_in_a_row", n)
			return
		}
	}
	c.discardGolden(snap)
}

// restoreWorked resets the count of failed restores.
func (c *Controller) restoreWorked() {
	c.goldenMu.Lock()
	c.guestFailures = 0
	c.goldenMu.Unlock()
}

// discardGolden stops restoring from snap (a restore from it failed), removes its manifest so that
// no later process restores it either, and asks the boot loop for a fresh one.
func (c *Controller) discardGolden(snap *vm.SnapshotFiles) {
	c.goldenMu.Lock()
	defer c.goldenMu.Unlock()
	if c.golden != snap {
		return
	}
	c.golden, c.guestFailures = nil, 0
	unpublish(filepath.Dir(snap.StatePath))
	c.log.Warn("golden snapshot discarded; VMs cold-boot until a new one is made")
	select {
	case c.regolden <- struct{}{}:
	default:
	}
}

// PrepareGolden makes the golden snapshot usable. The snapshot saved under Image.SnapshotDir for
// the current key (image, hypervisor, machine configuration: see snapshotKey) is verified and
// reused, so a restarted server restores its first VM in seconds; otherwise one golden VM is
// booted cold, waited for until healthy and settled, snapshotted into a new directory and
// destroyed. The first call in a process also prunes the snapshots no VM can use any more.
// vm.ErrUnsupported means the driver cannot snapshot: VMs cold-boot.
func (c *Controller) PrepareGolden(ctx context.Context) error {
	done := c.startMaking()
	defer done()
	root := c.currentImage().SnapshotDir
	if root == "" {
		return errors.New("no snapshot directory configured")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	key, err := c.goldenKey(ctx)
	if err != nil {
		c.metrics.failures.WithLabelValues("golden").Inc()
		return err
	}
	snap, dir, err := c.findSnapshot(root, key)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	c.pruneOnce(root, dir)
	if snap != nil {
		c.useGolden(snap)
		c.metrics.golden.WithLabelValues("reused").Inc()
		c.log.Info("golden snapshot reused", "dir", dir)
		return nil
	}
	dir, err = c.makeGolden(ctx, root, key)
	if err != nil {
		c.metrics.failures.WithLabelValues("golden").Inc()
		return err
	}
	c.metrics.golden.WithLabelValues("made").Inc()
	c.log.Info("golden snapshot ready", "dir", dir)
	return nil
}

// pruneOnce removes, the first time it is called in this process, what the snapshot root holds
// besides keep that no VM overlay uses (see pruneSnapshots).
func (c *Controller) pruneOnce(root, keep string) {
	c.goldenMu.Lock()
	pruned := c.pruned
	c.pruned = true
	c.goldenMu.Unlock()
	if pruned {
		return
	}
	removed, err := pruneSnapshots(root, keep, c.cfg.VMDir)
	if len(removed) > 0 {
		c.log.Info("old golden snapshots removed", "root", root, "removed", removed)
	}
	if err != nil {
		c.log.Warn("old golden snapshots not all removed", "root", root, "err", err)
	}
}

// startMaking marks a golden snapshot as in the making until the returned func runs, so that a
// Create arriving meanwhile waits for it (see awaitGolden). A mark already set (by StartServices,
// before the boot loop runs) is adopted; only its adopter's done func clears it.
func (c *Controller) startMaking() func() {
	c.goldenMu.Lock()
	ch := c.making
	if ch == nil {
		ch = make(chan struct{})
		c.making = ch
	}
	c.goldenMu.Unlock()
	return func() {
		c.goldenMu.Lock()
		defer c.goldenMu.Unlock()
		if c.making == ch {
			c.making = nil
			close(ch)
		}
	}
}

// awaitGolden returns the snapshot to restore from, waiting first for one being made. A cold boot
// started beside the golden VM's would take as long as the golden boot itself and slow it down on
// a small host, while the restore after it takes seconds; so a Create waits (bounded by ctx).
func (c *Controller) awaitGolden(ctx context.Context) (*vm.SnapshotFiles, error) {
	c.goldenMu.Lock()
	snap, making := c.golden, c.making
	c.goldenMu.Unlock()
	if snap != nil || making == nil {
		return snap, nil
	}
	select {
	case <-making:
		return c.goldenSnapshot(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Controller) useGolden(snap *vm.SnapshotFiles) {
	c.goldenMu.Lock()
	c.golden = snap
	c.goldenMu.Unlock()
}

// makeGolden boots the golden VM, snapshots it into a temporary directory under root, seals it
// (fsync, manifest) and publishes it under its final name, which it returns; c.golden is set to it.
func (c *Controller) makeGolden(ctx context.Context, root string, key snapshotKey) (dir string, err error) {
	id := c.cfg.NewID()
	name := key.name() + "." + vm.Names(id).Key
	tmp := filepath.Join(root, tmpPrefix+name)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := c.snapshotGolden(ctx, id, tmp); err != nil {
		return "", err
	}
	if err := sealSnapshot(tmp, key, c.cfg.Now()); err != nil {
		return "", err
	}
	dir = filepath.Join(root, name)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	if err := syncDir(root); err != nil {
		return "", err
	}
	snap := snapshotFiles(dir)
	if !fileExists(snap.DiskPath) {
		snap.DiskPath = ""
	}
	c.useGolden(&snap)
	return dir, nil
}

// snapshotGolden boots golden VM id cold, waits until it is healthy and settled, snapshots it into
// dir and destroys it.
func (c *Controller) snapshotGolden(ctx context.Context, id, dir string) (err error) {
	n, _, err := c.acquireNet(ctx, id)
	if err != nil {
		return fmt.Errorf("golden VM network: %w", err)
	}
	defer func() {
		cctx, cancel := cleanupCtx(ctx)
		defer cancel()
		err = joinErr(err, c.release(cctx, id))
	}()
	spec := c.spec(id, n)
	if err := c.cfg.Driver.Create(ctx, spec); err != nil {
		return fmt.Errorf("golden VM: %w", err)
	}
	if err := c.cfg.Driver.Start(ctx, id); err != nil {
		return fmt.Errorf("golden VM: %w", err)
	}
	if err := c.waitHealthy(ctx, id); err != nil {
		return fmt.Errorf("golden VM: %w", err)
	}
	if err := c.settleGolden(ctx, id); err != nil {
		return fmt.Errorf("golden VM: %w", err)
	}
	if err := c.cfg.Driver.Snapshot(ctx, id, snapshotFiles(dir)); err != nil {
		return fmt.Errorf("golden snapshot: %w", err)
	}
	return nil
}

// RebuildOnce runs Config.Rebuild, switches to the image it returns (if any), and makes a fresh
// golden snapshot: the current one is unpublished even when the image did not change, so the
// rebuild schedule also refreshes it. VMs cold-boot while it is being made.
func (c *Controller) RebuildOnce(ctx context.Context) error {
	if c.cfg.Rebuild == nil {
		return errors.New("no rebuild hook configured")
	}
	img, err := c.cfg.Rebuild(ctx)
	if err != nil {
		return err
	}
	c.goldenMu.Lock()
	old := c.golden
	if img != nil {
		c.image = *img
	}
	c.golden = nil
	c.goldenMu.Unlock()
	if old != nil {
		unpublish(filepath.Dir(old.StatePath))
	}
	c.log.Info("golden image rebuilt", "root", c.currentImage().RootImage)
	if c.currentImage().SnapshotDir == "" {
		return nil
	}
	return c.PrepareGolden(ctx)
}
