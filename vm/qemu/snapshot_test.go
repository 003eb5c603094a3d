package qemu

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
)

// snapshotRig has a running, snapshot-capable VM with 128 MiB of RAM.
func snapshotRig(t *testing.T) (*testRig, vm.SnapshotFiles) {
	t.Helper()
	rig := newRig(t, nil)
	rig.spec.MemoryMiB = vm.MinMemoryMiB
	if err := rig.d.Create(t.Context(), rig.spec); err != nil {
		t.Fatal(err)
	}
	if err := rig.d.Start(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	snapDir := shortDir(t)
	rig.l.rec.reset()
	return rig, vm.SnapshotFiles{StatePath: filepath.Join(snapDir, "golden.vmstate"), MemPath: filepath.Join(snapDir, "golden.mem")}
}

var snapshotSequence = []string{"stop", "migrate-set-capabilities", "migrate-set-parameters", "getfd", "migrate", "query-migrate"}

func TestSnapshotSequence(t *testing.T) {
	t.Parallel()
	rig, snap := snapshotRig(t)
	if err := rig.d.Snapshot(t.Context(), testID, snap); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, &rig.l.rec, append(slices.Clone(snapshotSequence), "cont")...)
	for cmd, want := range map[string]string{
		"migrate-set-capabilities": `{"capabilities":[{"capability":"x-ignore-shared","state":true}]}`,
		"migrate-set-parameters":   `{"max-bandwidth":68719476736}`,
		"getfd":                    `{"fdname":"polydev-vmstate"}`,
		"migrate":                  `{"uri":"fd:polydev-vmstate"}`,
	} {
		if got := rig.l.rec.args(cmd); got != want {
			t.Errorf("%s arguments = %s, want %s", cmd, got, want)
		}
	}
	wantState(t, rig.d, testID, vm.StateRunning)
	src, _ := os.ReadFile(rig.memPath())
	dst, err := os.ReadFile(snap.MemPath)
	if err != nil || len(dst) != 128<<20 || !bytes.Equal(src, dst) {
		t.Fatalf("snapshot memory: %d bytes, equal %v, err %v", len(dst), bytes.Equal(src, dst), err)
	}
	if _, err := os.Stat(snap.StatePath); err != nil {
		t.Fatalf("no state file: %v", err)
	}
}

func TestSnapshotOfPausedVMStaysPaused(t *testing.T) {
	t.Parallel()
	rig, snap := snapshotRig(t)
	m, _ := rig.d.VMs.Lock(testID)
	err := m.X.qmp.Stop(t.Context())
	m.Mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, rig.d, testID, vm.StatePaused)
	rig.l.rec.reset()
	if err := rig.d.Snapshot(t.Context(), testID, snap); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, &rig.l.rec, snapshotSequence[1:]...)
	wantState(t, rig.d, testID, vm.StatePaused)
}

func TestSnapshotFailureStillResumes(t *testing.T) {
	t.Parallel()
	t.Run("migration failed", func(t *testing.T) {
		t.Parallel()
		rig, snap := snapshotRig(t)
		rig.l.behave.set(func(b *behaviour) { b.migrationFails = "No space left on device" })
		err := rig.d.Snapshot(t.Context(), testID, snap)
		var me *MigrationError
		if !errors.As(err, &me) || me.Desc != "No space left on device" {
			t.Fatalf("Snapshot = %v, want the migration's failure", err)
		}
		wantCalls(t, &rig.l.rec, append(slices.Clone(snapshotSequence), "cont")...)
		wantState(t, rig.d, testID, vm.StateRunning)
	})
	t.Run("migrate refused", func(t *testing.T) {
		t.Parallel()
		rig, snap := snapshotRig(t)
		rig.l.behave.setFail("migrate", "There's a migration process in progress")
		var qe *QMPError
		if err := rig.d.Snapshot(t.Context(), testID, snap); !errors.As(err, &qe) || qe.Command != "migrate" {
			t.Fatalf("Snapshot = %v, want migrate's QMPError", err)
		}
		// The descriptor migrate did not take is closed, so QEMU does not keep the file open.
		wantCalls(t, &rig.l.rec, "stop", "migrate-set-capabilities", "migrate-set-parameters", "getfd", "migrate", "closefd", "cont")
		wantState(t, rig.d, testID, vm.StateRunning)
	})
	t.Run("migration outlives its timeout", func(t *testing.T) {
		t.Parallel()
		rig, snap := snapshotRig(t)
		rig.d.cfg.MigrateTimeout = 2 * time.Second // long enough for the commands before the stall on a loaded machine
		rig.l.behave.set(func(b *behaviour) { b.migrationStalls = true })
		if err := rig.d.Snapshot(t.Context(), testID, snap); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Snapshot = %v, want DeadlineExceeded", err)
		}
		wantCalls(t, &rig.l.rec, append(slices.Clone(snapshotSequence), "migrate_cancel", "cont")...)
		wantState(t, rig.d, testID, vm.StateRunning)
	})
	t.Run("QEMU dies mid-command", func(t *testing.T) {
		t.Parallel()
		rig, snap := snapshotRig(t)
		rig.l.behave.setHangup("migrate")
		if err := rig.d.Snapshot(t.Context(), testID, snap); !errors.Is(err, ErrClosed) {
			t.Fatalf("Snapshot = %v, want ErrClosed", err)
		}
		rig.l.last().exit() // the real process is gone with its socket
		wantState(t, rig.d, testID, vm.StateFailed)
		if err := rig.d.Destroy(t.Context(), testID); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSnapshotNeedsSharedMemory(t *testing.T) {
	t.Parallel()
	rig := newRig(t, func(c *Config) { c.MemoryDir = "" })
	if err := rig.d.Create(t.Context(), rig.spec); err != nil {
		t.Fatal(err)
	}
	if err := rig.d.Start(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(rig.l.lastArgs(), "-object") {
		t.Fatalf("memory backend without MemoryDir: %q", rig.l.lastArgs())
	}
	err := rig.d.Snapshot(t.Context(), testID, vm.SnapshotFiles{StatePath: "/s", MemPath: "/m"})
	if !errors.Is(err, vm.ErrUnsupported) {
		t.Fatalf("Snapshot = %v, want ErrUnsupported", err)
	}
}

func TestRestoreSequence(t *testing.T) {
	t.Parallel()
	golden, snap := snapshotRig(t)
	if err := golden.d.Snapshot(t.Context(), testID, snap); err != nil {
		t.Fatal(err)
	}

	rig := newRig(t, nil)
	clone := rig.spec
	clone.ID = "clone-1"
	clone.OverlayPath = filepath.Join(rig.dir, clone.Names().Overlay)
	clone.MemoryMiB = 4096 // the snapshot's size wins
	if err := rig.d.Restore(t.Context(), clone, snap); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, &rig.l.rec, "qmp_capabilities", "migrate-set-capabilities", "getfd", "migrate-incoming", "query-migrate", "cont")
	if got, want := rig.l.rec.args("migrate-incoming"), `{"uri":"fd:polydev-vmstate"}`; got != want {
		t.Errorf("migrate-incoming arguments = %s, want %s", got, want)
	}
	args := rig.l.lastArgs()
	for _, run := range [][]string{
		{"-m", "128M"},
		{"-object", "memory-backend-file,id=mem0,size=128M,mem-path=" + snap.MemPath + ",share=off"},
		{"-S", "-incoming", "defer"},
	} {
		if !containsRun(args, run) {
			t.Errorf("restore args lack %q: %q", run, args)
		}
	}
	if got := rig.r.last(); got[len(got)-1] != clone.OverlayPath {
		t.Errorf("no overlay made for the clone: %q", got)
	}
	wantState(t, rig.d, clone.ID, vm.StateRunning)
	if err := rig.d.Restore(t.Context(), clone, snap); !errors.Is(err, vm.ErrExists) {
		t.Fatalf("second Restore = %v, want ErrExists", err)
	}
	if err := rig.d.Snapshot(t.Context(), clone.ID, snap); !errors.Is(err, vm.ErrUnsupported) {
		t.Fatalf("Snapshot of a clone = %v, want ErrUnsupported", err)
	}

	if err := rig.d.Destroy(t.Context(), clone.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{snap.StatePath, snap.MemPath} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("Destroy of a clone touched the snapshot: %v", err)
		}
	}
	assertGone(t, clone.OverlayPath, clone.SocketPath())
}

func TestRestoreFailureCleansUp(t *testing.T) {
	t.Parallel()
	golden, snap := snapshotRig(t)
	if err := golden.d.Snapshot(t.Context(), testID, snap); err != nil {
		t.Fatal(err)
	}
	rig := newRig(t, nil)
	rig.l.behave.set(func(b *behaviour) { b.migrationFails = "load of migration failed: Invalid argument" })
	err := rig.d.Restore(t.Context(), rig.spec, snap)
	var me *MigrationError
	if !errors.As(err, &me) {
		t.Fatalf("Restore = %v, want a MigrationError", err)
	}
	if !rig.l.last().exited() {
		t.Error("the process of a failed Restore is still running")
	}
	assertGone(t, rig.spec.OverlayPath, rig.spec.SocketPath(), filepath.Join(rig.dir, rig.spec.Names().PIDFile))
	if _, err := rig.d.State(t.Context(), testID); !errors.Is(err, vm.ErrNotFound) {
		t.Errorf("State after failed Restore = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(snap.MemPath); err != nil {
		t.Errorf("a failed Restore touched the snapshot: %v", err)
	}
}

// TestSnapshotKeepsDisk: with DiskPath the snapshot copies the VM's disk layer, and a clone's overlay
// is backed by that copy (qcow2), not by the golden image its restored page cache no longer matches.
func TestSnapshotKeepsDisk(t *testing.T) {
	t.Parallel()
	golden, snap := snapshotRig(t)
	snap.DiskPath = filepath.Join(filepath.Dir(snap.StatePath), "golden.disk.qcow2")
	written := []byte("QFI\xfb the golden VM's writes")
	if err := os.WriteFile(golden.spec.OverlayPath, written, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := golden.d.Snapshot(t.Context(), testID, snap); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(snap.DiskPath); err != nil || !bytes.Equal(got, written) {
		t.Fatalf("snapshot disk = %q, %v; want the VM's overlay", got, err)
	}
	rig := newRig(t, nil)
	clone := rig.spec
	clone.ID = "clone-2"
	clone.OverlayPath = filepath.Join(rig.dir, clone.Names().Overlay)
	if err := rig.d.Restore(t.Context(), clone, snap); err != nil {
		t.Fatal(err)
	}
	want := OverlayArgs(snap.DiskPath, clone.OverlayPath)
	if got := rig.r.last(); !slices.Equal(got[1:], want) || !slices.Contains(want, "qcow2") {
		t.Fatalf("clone overlay made with %q, want qemu-img %q", got, want)
	}
}
