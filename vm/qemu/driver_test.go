package qemu

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
)

const testID = "0b8f6c1e-4f7a-4f43-9a55-5d2d1c0e9f10"

// testSpec describes a user-networking VM whose runtime files and overlay live in dir.
func testSpec(dir string) vm.Spec {
	return vm.Spec{
		ID:          testID,
		VCPUs:       2,
		MemoryMiB:   1024,
		KernelPath:  "/images/abc/vmlinux",
		InitrdPath:  "/images/abc/initrd.img",
		RootImage:   "/images/abc/rootfs.ext4",
		OverlayPath: filepath.Join(dir, vm.Names(testID).Overlay),
		SocketDir:   dir,
		Net: vm.Network{User: &vm.UserNet{HostForwards: []vm.HostForward{
			{Host: netip.MustParseAddrPort("127.0.0.1:41000"), GuestPort: 6080},
		}}},
	}
}

type testRig struct {
	d      *Driver
	l      *fakeLauncher
	r      *fakeRunner
	dir    string
	memDir string
	spec   vm.Spec
}

func newRig(t *testing.T, edit func(*Config)) *testRig {
	t.Helper()
	rig := &testRig{l: &fakeLauncher{}, r: &fakeRunner{}, dir: shortDir(t), memDir: shortDir(t)}
	cfg := Config{
		Launcher: rig.l, Runner: rig.r, Accel: AccelTCG, HostMHz: 2000, MemoryDir: rig.memDir,
		StartTimeout: 5 * time.Second, StopTimeout: 5 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rig.d, rig.spec = d, testSpec(rig.dir)
	return rig
}

func (r *testRig) memPath() string { return filepath.Join(r.memDir, vm.Names(testID).MemFile) }

func wantState(t *testing.T, d *Driver, id string, want vm.State) {
	t.Helper()
	if got, err := d.State(t.Context(), id); err != nil || got != want {
		t.Fatalf("State = %q, %v; want %q", got, err, want)
	}
}

func wantCalls(t *testing.T, rec *qmpRecorder, want ...string) {
	t.Helper()
	if got := rec.names(); !slices.Equal(got, want) {
		t.Fatalf("QMP commands\n got %q\nwant %q", got, want)
	}
}

func assertGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists (err %v)", p, err)
		}
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rig := newRig(t, nil)
	d, l, spec := rig.d, rig.l, rig.spec

	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got, want := rig.r.last(), append([]string{DefaultImgBinary}, OverlayArgs(spec.RootImage, spec.OverlayPath)...); !slices.Equal(got, want) {
		t.Fatalf("qemu-img call %q, want %q", got, want)
	}
	wantCalls(t, &l.rec, "qmp_capabilities")
	wantState(t, d, testID, vm.StateCreated)
	if args := l.lastArgs(); !containsRun(args, []string{"-object", "memory-backend-file,id=mem0,size=1024M,mem-path=" + rig.memPath() + ",share=on"}) {
		t.Errorf("created VM is not snapshot-capable: %q", args)
	}
	if err := d.Create(ctx, spec); !errors.Is(err, vm.ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}

	l.rec.reset()
	for range 2 { // the second Start is a no-op
		if err := d.Start(ctx, testID); err != nil {
			t.Fatal(err)
		}
	}
	wantCalls(t, &l.rec, "cont")
	wantState(t, d, testID, vm.StateRunning)

	l.rec.reset()
	if err := d.Stop(ctx, testID); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, &l.rec, "system_powerdown")
	wantState(t, d, testID, vm.StateStopped)
	if err := d.Stop(ctx, testID); err != nil {
		t.Fatalf("Stop of a stopped VM = %v", err)
	}
	assertGone(t, spec.SocketPath(), filepath.Join(rig.dir, spec.Names().PIDFile))
	if _, err := os.Stat(spec.OverlayPath); err != nil {
		t.Fatalf("Stop removed the overlay: %v", err)
	}

	l.rec.reset()
	if err := d.Start(ctx, testID); err != nil { // cold boot: new process, same overlay
		t.Fatal(err)
	}
	wantCalls(t, &l.rec, "qmp_capabilities", "cont")
	if l.count() != 2 || len(rig.r.calls) != 1 {
		t.Fatalf("%d launches and %d qemu-img runs, want 2 and 1", l.count(), len(rig.r.calls))
	}
	wantState(t, d, testID, vm.StateRunning)

	if err := d.Destroy(ctx, testID); err != nil {
		t.Fatal(err)
	}
	names := spec.Names()
	assertGone(t, spec.SocketPath(), spec.OverlayPath, rig.memPath(),
		filepath.Join(rig.dir, names.PIDFile), filepath.Join(rig.dir, names.LogFile))
	if !l.last().exited() {
		t.Error("Destroy left the process running")
	}
	if _, err := d.State(ctx, testID); !errors.Is(err, vm.ErrNotFound) {
		t.Errorf("State after Destroy = %v, want ErrNotFound", err)
	}
	if err := d.Destroy(ctx, testID); err != nil {
		t.Errorf("second Destroy = %v, want nil", err)
	}
}

func TestPauseIsSeenAndStartResumes(t *testing.T) {
	t.Parallel()
	rig := newRig(t, nil)
	ctx := t.Context()
	if err := rig.d.Create(ctx, rig.spec); err != nil {
		t.Fatal(err)
	}
	if err := rig.d.Start(ctx, testID); err != nil {
		t.Fatal(err)
	}
	m, _ := rig.d.VMs.Lock(testID)
	err := m.X.qmp.Stop(ctx) // someone paused it through QMP
	m.Mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, rig.d, testID, vm.StatePaused)
	rig.l.rec.reset()
	if err := rig.d.Stop(ctx, testID); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, &rig.l.rec, "cont", "system_powerdown") // a paused guest cannot see the button
}

func TestStopKillsAGuestThatIgnoresPowerdown(t *testing.T) {
	t.Parallel()
	rig := newRig(t, func(c *Config) { c.StopTimeout = 20 * time.Millisecond })
	rig.l.behave.set(func(b *behaviour) { b.ignorePowerdown = true })
	if err := rig.d.Create(t.Context(), rig.spec); err != nil {
		t.Fatal(err)
	}
	if err := rig.d.Start(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	if err := rig.d.Stop(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	if !rig.l.last().exited() {
		t.Fatal("the process survived Stop")
	}
	wantState(t, rig.d, testID, vm.StateStopped)
}

func TestStopOfCreatedVMKills(t *testing.T) {
	t.Parallel()
	rig := newRig(t, nil)
	if err := rig.d.Create(t.Context(), rig.spec); err != nil {
		t.Fatal(err)
	}
	rig.l.rec.reset()
	if err := rig.d.Stop(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, &rig.l.rec)
	if !rig.l.last().exited() {
		t.Fatal("the process survived Stop")
	}
}

func TestUnexpectedExitIsFailure(t *testing.T) {
	t.Parallel()
	rig := newRig(t, nil)
	if err := rig.d.Create(t.Context(), rig.spec); err != nil {
		t.Fatal(err)
	}
	if err := rig.d.Start(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	rig.l.last().exit() // the guest panicked (-no-reboot), or someone ran kill -9
	wantState(t, rig.d, testID, vm.StateFailed)
	for name, op := range map[string]func() error{
		"Start": func() error { return rig.d.Start(t.Context(), testID) },
		"Stop":  func() error { return rig.d.Stop(t.Context(), testID) },
		"Snapshot": func() error {
			return rig.d.Snapshot(t.Context(), testID, vm.SnapshotFiles{StatePath: "/s", MemPath: "/m"})
		},
	} {
		if err := op(); !errors.Is(err, vm.ErrInvalidState) {
			t.Errorf("%s on a failed VM = %v, want ErrInvalidState", name, err)
		}
	}
	if err := rig.d.Destroy(t.Context(), testID); err != nil {
		t.Fatalf("Destroy of a failed VM = %v", err)
	}
	assertGone(t, rig.spec.OverlayPath, rig.spec.SocketPath(), rig.memPath())
}

func TestCreateFailureCleansUp(t *testing.T) {
	t.Parallel()
	t.Run("qmp_capabilities refused", func(t *testing.T) {
		t.Parallel()
		rig := newRig(t, func(c *Config) { c.StartTimeout = 200 * time.Millisecond })
		rig.l.behave.setFail("qmp_capabilities", "not now")
		if err := rig.d.Create(t.Context(), rig.spec); err == nil {
			t.Fatal("Create succeeded")
		}
		if !rig.l.last().exited() {
			t.Error("the process of a failed Create is still running")
		}
		assertGone(t, rig.spec.SocketPath(), rig.spec.OverlayPath, filepath.Join(rig.dir, rig.spec.Names().PIDFile))
		if _, err := rig.d.State(t.Context(), testID); !errors.Is(err, vm.ErrNotFound) {
			t.Errorf("State after failed Create = %v, want ErrNotFound", err)
		}
		rig.l.behave.clear()
		if err := rig.d.Create(t.Context(), rig.spec); err != nil {
			t.Fatalf("Create after the failure was fixed = %v", err)
		}
	})
	t.Run("qemu-img fails", func(t *testing.T) {
		t.Parallel()
		rig := newRig(t, nil)
		rig.r.fail = errors.New("exit status 1")
		err := rig.d.Create(t.Context(), rig.spec)
		if err == nil || rig.l.count() != 0 {
			t.Fatalf("Create = %v with %d launches; want an error and none", err, rig.l.count())
		}
	})
}

func TestDriverRefusesBadInput(t *testing.T) {
	t.Parallel()
	snap := vm.SnapshotFiles{StatePath: "/s", MemPath: "/m"}
	tests := []struct {
		name string
		op   func(context.Context, *Driver, vm.Spec) error
		want error
	}{
		{"invalid spec", func(ctx context.Context, d *Driver, s vm.Spec) error { s.VCPUs = 0; return d.Create(ctx, s) }, vm.ErrInvalidSpec},
		{"hostfwd on 127.0.0.2", func(ctx context.Context, d *Driver, s vm.Spec) error {
			s.Net.User.HostForwards[0].Host = netip.MustParseAddrPort("127.0.0.2:41000")
			return d.Create(ctx, s)
		}, vm.ErrInvalidSpec},
		{"relative snapshot paths", func(ctx context.Context, d *Driver, s vm.Spec) error {
			return d.Restore(ctx, s, vm.SnapshotFiles{StatePath: "s", MemPath: "m"})
		}, vm.ErrInvalidSpec},
		{"missing snapshot memory", func(ctx context.Context, d *Driver, s vm.Spec) error { return d.Restore(ctx, s, snap) }, os.ErrNotExist},
		{"start unknown", func(ctx context.Context, d *Driver, s vm.Spec) error { return d.Start(ctx, "nope") }, vm.ErrNotFound},
		{"stop unknown", func(ctx context.Context, d *Driver, s vm.Spec) error { return d.Stop(ctx, "nope") }, vm.ErrNotFound},
		{"snapshot unknown", func(ctx context.Context, d *Driver, s vm.Spec) error { return d.Snapshot(ctx, "nope", snap) }, vm.ErrNotFound},
		{"snapshot before boot", func(ctx context.Context, d *Driver, s vm.Spec) error {
			if err := d.Create(ctx, s); err != nil {
				return err
			}
			return d.Snapshot(ctx, s.ID, snap)
		}, vm.ErrInvalidState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rig := newRig(t, nil)
			if err := tt.op(t.Context(), rig.d, rig.spec); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			rig.d.Destroy(t.Context(), testID)
		})
	}
	if _, err := New(Config{Accel: "hvf"}); err == nil {
		t.Error("New accepted an unknown accelerator")
	}
}

// TestConcurrentVMs drives several VMs through one Driver at once, for the race detector.
func TestConcurrentVMs(t *testing.T) {
	t.Parallel()
	rig := newRig(t, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ctx := t.Context()
			spec := rig.spec
			spec.ID = fmt.Sprintf("vm-%d", i)
			spec.OverlayPath = filepath.Join(rig.dir, spec.Names().Overlay)
			steps := []func() error{
				func() error { return rig.d.Create(ctx, spec) },
				func() error { return rig.d.Start(ctx, spec.ID) },
				func() error { _, err := rig.d.State(ctx, spec.ID); return err },
				func() error { return rig.d.Stop(ctx, spec.ID) },
				func() error { return rig.d.Destroy(ctx, spec.ID) },
			}
			for n, step := range steps {
				if err := step(); err != nil {
					t.Errorf("%s step %d: %v", spec.ID, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if entries, _ := os.ReadDir(rig.dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}
