package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
)

func TestExecLauncherCommand(t *testing.T) {
	t.Parallel()
	args := []string{"-M", "microvm"}
	tests := []struct {
		name     string
		launcher ExecLauncher
		netns    string
		wantName string
		wantArgs []string
	}{
		{"default binary", ExecLauncher{}, "", DefaultBinary, args},
		{"host namespace", ExecLauncher{Binary: "/usr/bin/qemu"}, "", "/usr/bin/qemu", args},
		{"vm namespace", ExecLauncher{Binary: "/usr/bin/qemu"}, "pdvn-0123456789", "ip",
			[]string{"netns", "exec", "pdvn-0123456789", "/usr/bin/qemu", "-M", "microvm"}},
		{"custom ip", ExecLauncher{Binary: "/q", IPPath: "/sbin/ip"}, "pdvn-1", "/sbin/ip",
			[]string{"netns", "exec", "pdvn-1", "/q", "-M", "microvm"}},
	}
	for _, tt := range tests {
		name, got := tt.launcher.command(LaunchRequest{Args: args, Netns: tt.netns}).Argv()
		if name != tt.wantName || !slices.Equal(got, tt.wantArgs) {
			t.Errorf("%s: command = %s %q, want %s %q", tt.name, name, got, tt.wantName, tt.wantArgs)
		}
	}
}

// TestExecLauncherWithFakeBinary runs the real process path (exec in its own process group, pid
// file, log, QMP socket wait, system_powerdown, kill, cleanup) against this test binary acting as
// qemu-system-x86_64 (see TestMain).
func TestExecLauncherWithFakeBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(fakeBinaryEnv, "1")
	ctx := t.Context()
	memDir := shortDir(t)
	d, err := New(Config{Binary: self, Runner: &fakeRunner{}, Accel: AccelTCG, MemoryDir: memDir,
		StartTimeout: 20 * time.Second, StopTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := shortDir(t)
	spec := testSpec(dir)
	spec.MemoryMiB = vm.MinMemoryMiB
	names := spec.Names()

	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(logOf(dir, names), err)
	}
	pid := readPID(t, filepath.Join(dir, names.PIDFile))
	if pgid, err := syscallGetpgid(pid); err != nil || pgid != pid {
		t.Errorf("pgid of %d = %d, %v; want its own group", pid, pgid, err)
	}
	wantState(t, d, testID, vm.StateCreated)
	if err := d.Start(ctx, testID); err != nil {
		t.Fatal(logOf(dir, names), err)
	}
	wantState(t, d, testID, vm.StateRunning)
	snapDir := shortDir(t)
	snap := vm.SnapshotFiles{StatePath: filepath.Join(snapDir, "s"), MemPath: filepath.Join(snapDir, "m")}
	if err := d.Snapshot(ctx, testID, snap); err != nil {
		t.Fatal(logOf(dir, names), err)
	}
	if err := d.Stop(ctx, testID); err != nil {
		t.Fatal(err)
	}
	wantState(t, d, testID, vm.StateStopped)
	if processAlive(pid) {
		t.Errorf("pid %d still alive after Stop", pid)
	}
	if log := logOf(dir, names); !strings.Contains(log, "guest powered off") {
		t.Errorf("the fake did not power off on system_powerdown; log:\n%s", log)
	}

	if err := d.Start(ctx, testID); err != nil { // a new process
		t.Fatal(logOf(dir, names), err)
	}
	pid = readPID(t, filepath.Join(dir, names.PIDFile))
	if err := d.Destroy(ctx, testID); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid) {
		t.Errorf("pid %d still alive after Destroy", pid)
	}
	assertGone(t, spec.SocketPath(), spec.OverlayPath, filepath.Join(memDir, names.MemFile),
		filepath.Join(dir, names.PIDFile), filepath.Join(dir, names.LogFile))
}

func TestExecLauncherProcessThatNeverServes(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skip("SKIP: /bin/true not present")
	}
	d, err := New(Config{Binary: "/bin/true", Runner: &fakeRunner{}, Accel: AccelTCG, StartTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	spec := testSpec(shortDir(t))
	err = d.Create(t.Context(), spec)
	if err == nil || !strings.Contains(err.Error(), "exited before its QMP socket answered") {
		t.Fatalf("Create with a binary that exits at once = %v", err)
	}
	assertGone(t, spec.SocketPath(), spec.OverlayPath, filepath.Join(spec.SocketDir, spec.Names().PIDFile))
}

func TestProbe(t *testing.T) {
	t.Parallel()
	dev := filepath.Join(t.TempDir(), "kvm")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ok := func(context.Context, Accel) error { return nil }
	hangs := func(context.Context, Accel) error { return errors.New("no agent after 35s") }
	tests := []struct {
		name   string
		device string
		boot   ProbeBoot
		want   Accel
	}{
		{"kvm boots", dev, ok, AccelKVM},
		{"kvm boot fails (PVM)", dev, hangs, AccelTCG},
		{"no probe configured", dev, nil, AccelTCG},
		{"no device", filepath.Join(t.TempDir(), "absent"), ok, AccelTCG},
	}
	for _, tt := range tests {
		got, why := Probe(t.Context(), tt.device, tt.boot)
		if got != tt.want || (got == AccelTCG) != (why != nil) {
			t.Errorf("%s: Probe = %s, %v; want %s", tt.name, got, why, tt.want)
		}
	}

	calls := 0
	d, err := New(Config{KVMDevice: dev, Launcher: &fakeLauncher{}, ProbeBoot: func(ctx context.Context, a Accel) error {
		calls++
		if a != AccelKVM {
			t.Errorf("probe boot asked for %s", a)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if got := d.Accel(t.Context()); got != AccelKVM {
			t.Fatalf("Accel = %s, want kvm", got)
		}
	}
	if calls != 1 {
		t.Errorf("probe booted %d times, want once", calls)
	}
}

func TestHostMHz(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "cpuinfo")
	os.WriteFile(p, []byte("processor\t: 0\nmodel name\t: x\ncpu MHz\t\t: 2445.406\ncpu MHz\t\t: 1.0\n"), 0o600)
	if got := HostMHz(p); got != 2445 {
		t.Errorf("HostMHz = %d, want 2445", got)
	}
	if got := HostMHz(filepath.Join(t.TempDir(), "absent")); got != 0 {
		t.Errorf("HostMHz of a missing file = %d, want 0", got)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file %s holds %q", path, data)
	}
	return pid
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	if i := strings.LastIndexByte(string(data), ')'); i >= 0 && i+2 < len(data) {
		return data[i+2] != 'Z'
	}
	return true
}

func logOf(dir string, names vm.ResourceNames) string {
	data, _ := os.ReadFile(filepath.Join(dir, names.LogFile))
	return string(data)
}

func syscallGetpgid(pid int) (int, error) { return syscall.Getpgid(pid) }
