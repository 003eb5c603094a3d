package controller

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
)

func TestReaper(t *testing.T) {
	e := newEnv(t, vm.NetUser, func(c *Config) { c.IdleTimeout = time.Hour })
	ctx := t.Context()
	u := e.user(polydev.TierPro)
	idle, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	busy, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	crashed, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.c.ReapOnce(ctx); n != 0 {
		t.Fatalf("reaped %d fresh VMs", n)
	}
	e.clock.add(50 * time.Minute)
	if _, err := e.get(u, busy.ID, polydev.VMPortNoVNC, "/"); err != nil { // activity
		t.Fatal(err)
	}
	e.clock.add(20 * time.Minute)
	e.d.mu.Lock()
	e.d.vms[crashed.ID].state = vm.StateFailed
	e.d.mu.Unlock()

	if n := e.c.ReapOnce(ctx); n != 1 {
		t.Fatalf("reaped %d, want 1", n)
	}
	if got := e.record(idle.ID); got.State != polydev.VMStopped {
		t.Fatalf("idle VM %s", got.State)
	}
	if got := e.record(busy.ID); got.State != polydev.VMRunning {
		t.Fatalf("busy VM %s", got.State)
	}
	if got := e.record(crashed.ID); got.State != polydev.VMFailed {
		t.Fatalf("crashed VM %s", got.State)
	}
	e.assertFailedReleased(u, crashed.ID)
	if n := counterValue(e.c.metrics.reaped); n != 1 {
		t.Fatalf("reaped metric %v", n)
	}
	// A restarted VM counts as active from its start, not from its old activity.
	if _, err := e.c.Start(ctx, u, idle.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.c.ReapOnce(ctx); n != 0 {
		t.Fatalf("reaped %d right after a start", n)
	}
}

func TestMonitor(t *testing.T) {
	e := newEnv(t, vm.NetTAP, nil)
	u := e.user(polydev.TierPro)
	if _, err := e.c.Create(t.Context(), u, polydev.VMBrowser); err != nil {
		t.Fatal(err)
	}
	ps := e.c.MonitorOnce(t.Context())
	if ps.CIDR != testCIDR || ps.Total != 13 || ps.Available != 12 {
		t.Fatalf("pool stats %+v", ps)
	}
	if used, running := counterValue(e.c.metrics.poolUsed), counterValue(e.c.metrics.byState.WithLabelValues("running")); used != 1 || running != 1 {
		t.Fatalf("gauges used=%v running=%v", used, running)
	}
	user := newEnv(t, vm.NetUser, nil)
	if ps := user.c.MonitorOnce(t.Context()); ps != (polydev.VMPoolStats{}) {
		t.Fatalf("user-mode pool stats %+v", ps)
	}
}

func TestWarmPool(t *testing.T) {
	for _, mode := range []vm.NetMode{vm.NetUser, vm.NetTAP} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, mode, func(c *Config) { c.WarmPool = 2 })
			ctx := t.Context()
			if err := e.c.FillWarm(ctx); err != nil {
				t.Fatal(err)
			}
			warm := e.c.warmIDs()
			if len(warm) != 2 || len(e.d.ids()) != 2 {
				t.Fatalf("warm %v, driver %v", warm, e.d.ids())
			}
			if all, _ := e.db.ListAllVMs(ctx); len(all) != 0 {
				t.Fatalf("warm VMs have records: %+v", all)
			}
			u := e.user(polydev.TierPro)
			v, err := e.c.Create(ctx, u, polydev.VMBrowser)
			if err != nil {
				t.Fatal(err)
			}
			if v.ID != warm[0] || v.State != polydev.VMRunning || (mode == vm.NetTAP) != (v.IP != nil) {
				t.Fatalf("hand-out %+v, warm were %v", v, warm)
			}
			if _, err := e.get(u, v.ID, polydev.VMPortAgent, "/health"); err != nil {
				t.Fatal(err)
			}
			if n := counterValue(e.c.metrics.creates.WithLabelValues(pathWarm)); n != 1 {
				t.Fatalf("warm creates %v", n)
			}
			if got := e.c.warmIDs(); len(got) != 1 || got[0] != warm[1] {
				t.Fatalf("warm after hand-out %v", got)
			}
			if n := counterValue(e.c.metrics.warm); n != 1 {
				t.Fatalf("polydev_vm_warm after a hand-out = %v, want 1", n)
			}
			if err := e.c.FillWarm(ctx); err != nil {
				t.Fatal(err)
			}
			if got := e.c.warmIDs(); len(got) != 2 || slices.Contains(got, v.ID) {
				t.Fatalf("warm after refill %v", got)
			}
			// Close destroys the warm pool and stops the handed-out VM.
			if err := e.c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := counterValue(e.c.metrics.warm); n != 0 {
				t.Fatalf("polydev_vm_warm after Close = %v", n)
			}
			for _, id := range e.d.ids() {
				if st, _ := e.d.State(ctx, id); id != v.ID || st != vm.StateStopped {
					t.Fatalf("after Close the driver has %s in %s", id, st)
				}
			}
			if got := e.record(v.ID); got.State != polydev.VMStopped {
				t.Fatalf("handed-out VM %s after Close", got.State)
			}
		})
	}
}

// TestWarmRefillInBackground: the service loop fills the pool at start and refills it after a
// hand-out.
func TestWarmRefillInBackground(t *testing.T) {
	e := newEnv(t, vm.NetUser, func(c *Config) { c.WarmPool = 1 })
	e.c.warmed = make(chan string, 4)
	if err := e.c.StartServices(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := <-e.c.warmed
	u := e.user(polydev.TierPro)
	v, err := e.c.Create(t.Context(), u, polydev.VMBrowser)
	if err != nil || v.ID != first {
		t.Fatalf("Create = %+v, %v; want the warm VM %s", v, err, first)
	}
	if second := <-e.c.warmed; second == first {
		t.Fatal("refill reused the handed-out id")
	}
	e.c.StopServices()
	if got := e.c.warmIDs(); len(got) != 1 {
		t.Fatalf("warm pool %v after refill", got)
	}
}

func TestGoldenSnapshot(t *testing.T) {
	e := newEnv(t, vm.NetUser, nil)
	snapDir := filepath.Join(e.dir, "image", "snapshot")
	e.cfg.Image.SnapshotDir = snapDir
	var restoredIDs []string
	e.cfg.AfterRestore = func(ctx context.Context, id string, dial DialFunc) error {
		conn, err := dial(ctx, polydev.VMPortAgent)
		if err != nil {
			return err
		}
		restoredIDs = append(restoredIDs, id)
		return conn.Close()
	}
	e.c = e.newController()
	ctx := t.Context()
	if err := e.c.PrepareGolden(ctx); err != nil {
		t.Fatal(err)
	}
	if e.d.snaps != 1 || len(e.d.ids()) != 0 || len(e.c.ports) != 0 {
		t.Fatalf("after PrepareGolden: %d snapshots, driver VMs %v, ports %v", e.d.snaps, e.d.ids(), e.c.ports)
	}
	snaps := e.snapshots()
	if len(snaps) != 1 {
		t.Fatalf("published snapshots %v, want one", snaps)
	}
	if left, _ := filepath.Glob(filepath.Join(snapDir, tmpPrefix+"*")); len(left) != 0 {
		t.Fatalf("temporary snapshot dirs left: %v", left)
	}
	for _, f := range []string{snapState, snapMem, snapDisk, snapManifest} {
		if _, err := os.Stat(filepath.Join(snaps[0], f)); err != nil {
			t.Fatal(err)
		}
	}
	u := e.user(polydev.TierPro)
	v, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.d.get(v.ID); !got.restored || !slices.Equal(restoredIDs, []string{v.ID}) {
		t.Fatalf("VM not restored (restored=%v, AfterRestore saw %v)", got.restored, restoredIDs)
	}
	if n := counterValue(e.c.metrics.creates.WithLabelValues(pathRestore)); n != 1 {
		t.Fatalf("restore creates %v", n)
	}

	// A second process reuses the finished snapshot.
	c2 := e.newController()
	if err := c2.PrepareGolden(ctx); err != nil || e.d.snaps != 1 || counterValue(c2.metrics.golden.WithLabelValues("reused")) != 1 {
		t.Fatalf("reuse: %v, %d snapshots", err, e.d.snaps)
	}

	// A failed restore falls back to a cold boot and discards the snapshot.
	e.d.hook = func(m, id string) error {
		if m == "Restore" {
			return errors.New("bad snapshot")
		}
		return nil
	}
	w, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.d.get(w.ID); got.restored {
		t.Fatal("restored despite the failure")
	}
	if e.c.goldenSnapshot() != nil {
		t.Fatal("a snapshot that failed to restore is still used")
	}
	if _, err := os.Stat(filepath.Join(snaps[0], snapManifest)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("manifest of a discarded snapshot: %v", err)
	}
	if _, err := os.Stat(filepath.Join(snaps[0], snapDisk)); err != nil {
		t.Fatalf("a discarded snapshot's disk layer, which clones' overlays may use, is gone: %v", err)
	}

	// Rebuild makes a fresh one.
	e.d.hook = nil
	rebuilt := 0
	e.c.cfg.Rebuild = func(ctx context.Context) (*Image, error) { rebuilt++; return nil, nil }
	if err := e.c.RebuildOnce(ctx); err != nil || rebuilt != 1 || e.d.snaps != 2 || e.c.goldenSnapshot() == nil {
		t.Fatalf("RebuildOnce: %v, rebuilt %d, snapshots %d", err, rebuilt, e.d.snaps)
	}
}

func TestGoldenUnsupported(t *testing.T) {
	e := newEnv(t, vm.NetTAP, nil)
	e.cfg.Image.SnapshotDir = filepath.Join(e.dir, "image", "snapshot")
	e.c = e.newController()
	e.d.snapOK = false
	if err := e.c.PrepareGolden(t.Context()); !errors.Is(err, vm.ErrUnsupported) {
		t.Fatalf("PrepareGolden = %v, want ErrUnsupported", err)
	}
	if len(e.d.ids()) != 0 || len(e.leases()) != 0 || len(e.files()) != 0 {
		t.Fatalf("golden VM left driver VMs %v, leases %v, files %v", e.d.ids(), e.leases(), e.files())
	}
	if left, _ := filepath.Glob(filepath.Join(e.cfg.Image.SnapshotDir, tmpPrefix+"*")); len(left) != 0 {
		t.Fatalf("temporary snapshot dirs left: %v", left)
	}
	u := e.user(polydev.TierPro)
	v, err := e.c.Create(t.Context(), u, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := e.d.get(v.ID); got.restored {
		t.Fatal("restored without a snapshot")
	}
}

// TestProcTable finds a real process by the tag in its command line, scoped to its run directory,
// and kills it.
func TestProcTable(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("SKIP: no sh")
	}
	runDir := t.TempDir()
	id := polydev.NewID()
	n := vm.Names(id)
	// $0 of the shell carries the socket path, as QEMU's -qmp argument does. The shell waits in its
	// read builtin on a pipe nobody writes: a command such as sleep would be run by a forked child
	// that carries the same command line until it execs, and List could see both.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	cmd := exec.Command("sh", "-c", "read x", "unix:"+filepath.Join(runDir, n.Socket)+",server=on")
	cmd.Stdin = pr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })

	other := ProcTable{Root: "/proc", RunDir: t.TempDir()}
	if got, err := other.List(t.Context()); err != nil || len(got) != 0 {
		t.Fatalf("another run dir sees %v, %v", got, err)
	}
	pt := ProcTable{Root: "/proc", RunDir: runDir}
	got, err := pt.List(t.Context())
	if err != nil || len(got) != 1 || got[0].PID != cmd.Process.Pid || got[0].Key != n.Key {
		t.Fatalf("List = %+v, %v; want pid %d key %s", got, err, cmd.Process.Pid, n.Key)
	}
	if err := pt.Kill(t.Context(), cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("process survived Kill")
	}
}

func TestKeyInCmdline(t *testing.T) {
	key := vm.Names("x").Key
	needle := []byte("/run/pd/" + vm.ProcessPrefix)
	tests := []struct {
		cmdline string
		want    string
	}{
		{"qemu\x00-qmp\x00unix:/run/pd/pdvm-" + key + ".sock,server=on\x00", key},
		{"firecracker\x00--api-sock\x00/run/pd/pdvm-" + key + ".sock", key},
		{"qemu\x00-qmp\x00unix:/run/other/pdvm-" + key + ".sock", ""},
		{"qemu\x00/run/pd/pdvm-ZZZZZZZZZZ.sock", ""},
		{"qemu\x00/run/pd/pdvm-abc", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, ok := keyInCmdline([]byte(tc.cmdline), needle)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("keyInCmdline(%q) = %q, %v; want %q", tc.cmdline, got, ok, tc.want)
		}
	}
}

// TestGoldenRemadeAfterDiscard: the boot loop makes the golden snapshot at start, and a new one
// after a failed restore discarded it.
func TestGoldenRemadeAfterDiscard(t *testing.T) {
	e := newEnv(t, vm.NetUser, func(c *Config) { c.WarmPool = 1 })
	e.cfg.Image.SnapshotDir = filepath.Join(e.dir, "image", "snapshot")
	e.c = e.newController()
	e.c.warmed = make(chan string, 4)
	snapped := make(chan string, 4)
	e.d.hook = func(m, id string) error {
		switch m {
		case "Snapshot":
			snapped <- id
		case "Restore":
			return errors.New("bad snapshot")
		}
		return nil
	}
	if err := e.c.StartServices(t.Context()); err != nil {
		t.Fatal(err)
	}
	first := <-snapped
	warm := <-e.c.warmed // restore failed: cold-booted, and the snapshot was discarded
	second := <-snapped
	e.c.StopServices()
	if first == second || first == warm || e.d.snaps != 2 || e.c.goldenSnapshot() == nil {
		t.Fatalf("golden VMs %s then %s, warm %s, %d snapshots, golden %v", first, second, warm, e.d.snaps, e.c.goldenSnapshot())
	}
	if v, _ := e.d.get(warm); v.restored {
		t.Fatal("warm VM claims to be restored")
	}
}

// TestCreateWaitsForGolden: a Create that arrives while the golden snapshot is being made waits for
// it and restores, instead of cold-booting beside the golden VM.
func TestCreateWaitsForGolden(t *testing.T) {
	e := newEnv(t, vm.NetUser, nil)
	e.cfg.Image.SnapshotDir = filepath.Join(e.dir, "image", "snapshot")
	snapshotting, release := make(chan struct{}), make(chan struct{})
	e.d.hook = func(method, id string) error {
		if method == "Snapshot" {
			close(snapshotting)
			<-release
		}
		return nil
	}
	e.c = e.newController()
	golden := make(chan error, 1)
	go func() { golden <- e.c.PrepareGolden(t.Context()) }()
	<-snapshotting
	u := e.user(polydev.TierPro)
	created := make(chan *polydev.VM, 1)
	go func() {
		v, err := e.c.Create(t.Context(), u, polydev.VMBrowser)
		if err != nil {
			t.Error(err)
		}
		created <- v
	}()
	// The Create waits: nothing is booted for it while the snapshot is pending. (A short grace
	// period is the only way to see that something does NOT happen; a wrong implementation that
	// cold-boots would be caught here almost always, and by the restored check below always.)
	select {
	case v := <-created:
		t.Fatalf("Create returned %v before the golden snapshot was done", v)
	case <-time.After(50 * time.Millisecond):
	}
	if ids := e.d.ids(); len(ids) != 1 {
		t.Fatalf("driver VMs while the golden snapshot is pending: %v (want only the golden VM)", ids)
	}
	close(release)
	if err := <-golden; err != nil {
		t.Fatal(err)
	}
	v := <-created
	if v == nil {
		t.FailNow()
	}
	if got, _ := e.d.get(v.ID); !got.restored {
		t.Fatal("the waiting Create cold-booted instead of restoring")
	}
}
