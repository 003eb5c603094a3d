package controller

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/polydev/polydev/vm"
)

// Golden snapshot file names inside Image.SnapshotDir.
const (
	snapState = "vmstate"
	snapMem   = "mem"
	snapDisk  = "disk.qcow2" // the golden VM's disk layer; clones' overlays are backed by it
	snapDone  = "done"       // written last: a directory without it is not a snapshot
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

// discardGolden stops restoring from snap (a restore from it failed), removes its done marker so
// that it is not reused, and asks the boot loop for a fresh one.
func (c *Controller) discardGolden(snap *vm.SnapshotFiles) {
	c.goldenMu.Lock()
	defer c.goldenMu.Unlock()
	if c.golden != snap {
		return
	}
	c.golden = nil
	_ = os.Remove(filepath.Join(filepath.Dir(snap.StatePath), snapDone))
	c.log.Warn("golden snapshot discarded; VMs cold-boot until a new one is made")
	select {
	case c.regolden <- struct{}{}:
	default:
	}
}

// PrepareGolden makes the golden snapshot usable: a finished one in Image.SnapshotDir is reused;
// otherwise one golden VM is booted cold, waited for until healthy, snapshotted into the directory
// and destroyed. vm.ErrUnsupported means the driver cannot snapshot: VMs cold-boot.
func (c *Controller) PrepareGolden(ctx context.Context) error {
	img := c.currentImage()
	dir := img.SnapshotDir
	if dir == "" {
		return errors.New("no snapshot directory configured")
	}
	snap := snapshotFiles(dir)
	if _, err := os.Stat(filepath.Join(dir, snapDone)); err == nil {
		c.useGolden(&snap)
		c.log.Info("golden snapshot reused", "dir", dir)
		return nil
	}
	done := c.startMaking()
	err := c.makeGolden(ctx, dir)
	if err == nil {
		c.useGolden(&snap)
	}
	done()
	if err != nil {
		c.metrics.failures.WithLabelValues("golden").Inc()
		return err
	}
	c.log.Info("golden snapshot ready", "dir", dir)
	return nil
}

// startMaking marks a golden snapshot as in the making until the returned func runs, so that a
// Create arriving meanwhile waits for it (see awaitGolden).
func (c *Controller) startMaking() func() {
	ch := make(chan struct{})
	c.goldenMu.Lock()
	c.making = ch
	c.goldenMu.Unlock()
	return func() {
		c.goldenMu.Lock()
		if c.making == ch {
			c.making = nil
		}
		c.goldenMu.Unlock()
		close(ch)
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

// makeGolden boots the golden VM and snapshots it into dir. The files are written into a temporary
// sibling directory of this VM's own that replaces dir only when complete, so two processes sharing
// an image directory never mix their files: the second to finish keeps the first one's snapshot.
func (c *Controller) makeGolden(ctx context.Context, dir string) (err error) {
	id := c.cfg.NewID()
	tmp := dir + ".tmp-" + vm.Names(id).Key
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
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
	if err := c.cfg.Driver.Snapshot(ctx, id, snapshotFiles(tmp)); err != nil {
		return fmt.Errorf("golden snapshot: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, snapDone), nil, 0o600); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, snapDone)); err == nil {
		return os.RemoveAll(tmp) // another process finished one meanwhile: use it
	}
	// A replaced snapshot is moved aside, never deleted: the overlays of VMs restored from it are
	// backed by its disk layer, and a stopped one must still boot.
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, dir+".old-"+vm.Names(id).Key); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, snapDone)); serr == nil {
			return os.RemoveAll(tmp)
		}
		return err
	}
	return nil
}

// RebuildOnce runs Config.Rebuild, switches to the image it returns (if any), and makes a fresh
// golden snapshot. VMs cold-boot while it is being made.
func (c *Controller) RebuildOnce(ctx context.Context) error {
	if c.cfg.Rebuild == nil {
		return errors.New("no rebuild hook configured")
	}
	img, err := c.cfg.Rebuild(ctx)
	if err != nil {
		return err
	}
	c.goldenMu.Lock()
	old := c.image.SnapshotDir
	if img != nil {
		c.image = *img
	}
	c.golden = nil
	c.goldenMu.Unlock()
	if old != "" {
		_ = os.Remove(filepath.Join(old, snapDone))
	}
	c.log.Info("golden image rebuilt", "root", c.currentImage().RootImage)
	if c.currentImage().SnapshotDir == "" {
		return nil
	}
	return c.PrepareGolden(ctx)
}
