package firecracker

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/polydev/polydev/vm"
)

func TestSnapshotCreateSequence(t *testing.T) {
	t.Parallel()
	l := newFakeLauncher(t)
	d := newTestDriver(t, l)
	dir := t.TempDir()
	if err := d.Create(t.Context(), testSpec(t, dir)); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	l.rec.reset()

	snap := vm.SnapshotFiles{StatePath: filepath.Join(dir, "golden.vmstate"), MemPath: filepath.Join(dir, "golden.mem")}
	if err := d.Snapshot(t.Context(), testID, snap); err != nil {
		t.Fatal(err)
	}
	l.rec.checkValid(t)
	want := []string{"PATCH /vm Paused", "PUT /snapshot/create", "PATCH /vm Resumed"}
	if got := l.rec.calls(); !slices.Equal(got, want) {
		t.Fatalf("snapshot sequence\n got %q\nwant %q", got, want)
	}
	wantBody := `{"mem_file_path":"` + snap.MemPath + `","snapshot_path":"` + snap.StatePath + `","snapshot_type":"Full"}`
	if got := body(t, l.rec, "PUT", "/snapshot/create"); got != wantBody {
		t.Errorf("snapshot/create body\n got %s\nwant %s", got, wantBody)
	}
	wantState(t, d, vm.StateRunning)
	for _, p := range []string{snap.StatePath, snap.MemPath} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("snapshot file: %v", err)
		}
	}
}

func TestSnapshotFailureStillResumes(t *testing.T) {
	t.Parallel()
	l := newFakeLauncher(t)
	d := newTestDriver(t, l)
	dir := t.TempDir()
	if err := d.Create(t.Context(), testSpec(t, dir)); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(t.Context(), testID); err != nil {
		t.Fatal(err)
	}
	l.fail.set("PUT /snapshot/create", "No space left on device")
	l.rec.reset()

	err := d.Snapshot(t.Context(), testID, vm.SnapshotFiles{StatePath: filepath.Join(dir, "s"), MemPath: filepath.Join(dir, "m")})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.FaultMessage != "No space left on device" || apiErr.Path != "/snapshot/create" {
		t.Fatalf("Snapshot = %v, want the fault_message of snapshot/create", err)
	}
	want := []string{"PATCH /vm Paused", "PUT /snapshot/create", "PATCH /vm Resumed"}
	if got := l.rec.calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q: a failed snapshot must not leave the guest paused", got, want)
	}
	wantState(t, d, vm.StateRunning)
}

func TestRestoreSequence(t *testing.T) {
	t.Parallel()
	l := newFakeLauncher(t)
	d := newTestDriver(t, l)
	dir := t.TempDir()
	snap := vm.SnapshotFiles{StatePath: filepath.Join(dir, "golden.vmstate"), MemPath: filepath.Join(dir, "golden.mem")}
	for _, p := range []string{snap.StatePath, snap.MemPath} {
		if err := os.WriteFile(p, []byte("snapshot"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	spec := testSpec(t, dir)
	spec.Net.TAP.Name = "pdtap-7"

	if err := d.Restore(t.Context(), spec, snap); err != nil {
		t.Fatal(err)
	}
	l.rec.checkValid(t)
	want := []string{"PUT /snapshot/load", "PATCH /vm Resumed"}
	if got := l.rec.calls(); !slices.Equal(got, want) {
		t.Fatalf("restore sequence\n got %q\nwant %q", got, want)
	}
	load := l.rec.find(t, "PUT", "/snapshot/load")
	if _, ok := load["mem_file_path"]; ok {
		t.Error("snapshot/load sent the deprecated mem_file_path besides mem_backend")
	}
	wantBody := `{"mem_backend":{"backend_path":"` + snap.MemPath + `","backend_type":"File"},` +
		`"network_overrides":[{"host_dev_name":"pdtap-7","iface_id":"eth0"}],"snapshot_path":"` + snap.StatePath + `"}`
	if got := body(t, l.rec, "PUT", "/snapshot/load"); got != wantBody {
		t.Errorf("snapshot/load body\n got %s\nwant %s", got, wantBody)
	}
	wantState(t, d, vm.StateRunning)
	if err := d.Restore(t.Context(), spec, snap); !errors.Is(err, vm.ErrExists) {
		t.Errorf("second Restore with the same id = %v, want ErrExists", err)
	}
}

func TestRestoreFailureCleansUp(t *testing.T) {
	t.Parallel()
	l := newFakeLauncher(t)
	d := newTestDriver(t, l)
	dir := t.TempDir()
	spec := testSpec(t, dir)
	missing := vm.SnapshotFiles{StatePath: filepath.Join(dir, "none.vmstate"), MemPath: filepath.Join(dir, "none.mem")}

	err := d.Restore(t.Context(), spec, missing)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Path != "/snapshot/load" {
		t.Fatalf("Restore from missing files = %v, want snapshot/load's fault", err)
	}
	if !l.last().exited() {
		t.Error("the process of a failed restore is still running")
	}
	if _, err := d.State(t.Context(), testID); !errors.Is(err, vm.ErrNotFound) {
		t.Errorf("State after failed restore = %v, want ErrNotFound", err)
	}
	assertGone(t, spec.SocketPath(), filepath.Join(dir, spec.Names().PIDFile))
}
