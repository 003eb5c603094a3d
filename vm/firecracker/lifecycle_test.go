package firecracker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
)

func TestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	l := newFakeLauncher(t)
	d := newTestDriver(t, l)
	dir := t.TempDir()
	spec := testSpec(t, dir)

	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Create(ctx, spec); !errors.Is(err, vm.ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	if err := d.Snapshot(ctx, testID, vm.SnapshotFiles{StatePath: "/s", MemPath: "/m"}); !errors.Is(err, vm.ErrInvalidState) {
		t.Fatalf("Snapshot before boot = %v, want ErrInvalidState", err)
	}
	for range 2 { // the second Start is a no-op
		if err := d.Start(ctx, testID); err != nil {
			t.Fatal(err)
		}
	}
	if n := countCalls(l.rec, "PUT /actions InstanceStart"); n != 1 {
		t.Fatalf("InstanceStart sent %d times, want 1", n)
	}

	l.rec.reset()
	if err := d.Stop(ctx, testID); err != nil {
		t.Fatal(err)
	}
	if got := l.rec.calls(); !slices.Equal(got, []string{"PUT /actions SendCtrlAltDel"}) {
		t.Fatalf("stop sequence %q", got)
	}
	wantState(t, d, vm.StateStopped)
	if err := d.Stop(ctx, testID); err != nil {
		t.Fatalf("Stop of a stopped VM = %v, want nil", err)
	}
	assertGone(t, spec.SocketPath())

	l.rec.reset()
	if err := d.Start(ctx, testID); err != nil { // cold boot from the same overlay
		t.Fatal(err)
	}
	l.rec.checkValid(t)
	if got, want := l.rec.calls(), []string{
		"PUT /machine-config", "PUT /boot-source", "PUT /drives/rootfs", "PUT /drives/overlay",
		"PUT /network-interfaces/eth0", "PUT /actions InstanceStart",
	}; !slices.Equal(got, want) {
		t.Fatalf("restart sequence\n got %q\nwant %q", got, want)
	}
	if l.count() != 2 {
		t.Fatalf("%d processes launched, want 2", l.count())
	}
	wantState(t, d, vm.StateRunning)

	if err := d.Destroy(ctx, testID); err != nil {
		t.Fatal(err)
	}
	names := spec.Names()
	assertGone(t, spec.SocketPath(), spec.OverlayPath, filepath.Join(dir, names.PIDFile), filepath.Join(dir, names.LogFile))
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

func TestStopKillsAGuestThatIgnoresCtrlAltDel(t *testing.T) {
	t.Parallel()
	l := newFakeLauncher(t)
	l.ignoreCAD = true
	d, err := New(Config{Launcher: l, StopTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Create(t.Context(), testSpec(t, t.TempDir())); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	if !l.last().exited() {
		t.Fatal("the process survived Stop")
	}
	wantState(t, d, vm.StateStopped)
}

func TestUnexpectedExitIsFailure(t *testing.T) {
	t.Parallel()
	l := newFakeLauncher(t)
	d := newTestDriver(t, l)
	if err := d.Create(t.Context(), testSpec(t, t.TempDir())); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	l.last().exit() // the guest panicked, or someone ran kill -9
	wantState(t, d, vm.StateFailed)
	for name, op := range map[string]func() error{
		"Start": func() error { return d.Start(t.Context(), testID) },
		"Stop":  func() error { return d.Stop(t.Context(), testID) },
	} {
		if err := op(); !errors.Is(err, vm.ErrInvalidState) {
			t.Errorf("%s on a failed VM = %v, want ErrInvalidState", name, err)
		}
	}
	if err := d.Destroy(t.Context(), testID); err != nil {
		t.Fatalf("Destroy of a failed VM = %v", err)
	}
}

func TestCreateFailureCleansUp(t *testing.T) {
	t.Parallel()
	l := newFakeLauncher(t)
	d := newTestDriver(t, l)
	dir := t.TempDir()
	spec := testSpec(t, dir)
	l.fail.set("PUT /boot-source", "Invalid kernel path")

	err := d.Create(t.Context(), spec)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.FaultMessage != "Invalid kernel path" {
		t.Fatalf("Create = %v, want boot-source's fault", err)
	}
	if !l.last().exited() {
		t.Error("the process of a failed Create is still running")
	}
	assertGone(t, spec.SocketPath(), filepath.Join(dir, spec.Names().PIDFile))
	if _, err := d.State(t.Context(), testID); !errors.Is(err, vm.ErrNotFound) {
		t.Errorf("State after failed Create = %v, want ErrNotFound", err)
	}

	l.fail.clear()
	if err := d.Create(t.Context(), spec); err != nil {
		t.Fatalf("Create after the failure was fixed = %v", err)
	}
}

func TestDriverRefusesBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		op   func(context.Context, *Driver, vm.Spec) error
		want error
	}{
		{"user networking", func(ctx context.Context, d *Driver, s vm.Spec) error {
			s.Net = vm.Network{User: &vm.UserNet{}}
			return d.Create(ctx, s)
		}, vm.ErrUnsupported},
		{"invalid spec", func(ctx context.Context, d *Driver, s vm.Spec) error {
			s.VCPUs = 0
			return d.Create(ctx, s)
		}, vm.ErrInvalidSpec},
		{"missing overlay", func(ctx context.Context, d *Driver, s vm.Spec) error {
			s.OverlayPath = filepath.Join(dir, "absent.overlay")
			return d.Create(ctx, s)
		}, os.ErrNotExist},
		{"relative snapshot paths", func(ctx context.Context, d *Driver, s vm.Spec) error {
			return d.Restore(ctx, s, vm.SnapshotFiles{StatePath: "s", MemPath: "m"})
		}, vm.ErrInvalidSpec},
		{"start unknown", func(ctx context.Context, d *Driver, s vm.Spec) error { return d.Start(t.Context(), "nope") }, vm.ErrNotFound},
		{"stop unknown", func(ctx context.Context, d *Driver, s vm.Spec) error { return d.Stop(t.Context(), "nope") }, vm.ErrNotFound},
		{"snapshot unknown", func(ctx context.Context, d *Driver, s vm.Spec) error {
			return d.Snapshot(ctx, "nope", vm.SnapshotFiles{StatePath: "/s", MemPath: "/m"})
		}, vm.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newFakeLauncher(t)
			d := newTestDriver(t, l)
			if err := tt.op(t.Context(), d, testSpec(t, t.TempDir())); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if l.count() != 0 {
				t.Error("a process was launched for a refused request")
			}
		})
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without Binary or Launcher succeeded")
	}
}

// TestConcurrentVMs drives several VMs through one Driver at once, for the race detector.
func TestConcurrentVMs(t *testing.T) {
	t.Parallel()
	l := newFakeLauncher(t)
	d := newTestDriver(t, l)
	base := testSpec(t, t.TempDir())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			ctx := t.Context()
			spec := base
			spec.ID = fmt.Sprintf("vm-%d", i)
			spec.OverlayPath = ""
			steps := []func() error{
				func() error { return d.Create(ctx, spec) },
				func() error { return d.Start(ctx, spec.ID) },
				func() error { _, err := d.State(ctx, spec.ID); return err },
				func() error { return d.Stop(ctx, spec.ID) },
				func() error { return d.Destroy(ctx, spec.ID) },
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
	l.rec.checkValid(t)
	if n := countCalls(l.rec, "PUT /actions InstanceStart"); n != 8 {
		t.Errorf("%d InstanceStart calls, want 8", n)
	}
}
