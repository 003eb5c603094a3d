package firecracker

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
)

func TestExecLauncherCommand(t *testing.T) {
	t.Parallel()
	req := LaunchRequest{Names: vm.Names("vm-1"), SocketPath: "/run/pd/s.sock"}
	base := []string{"--api-sock", "/run/pd/s.sock", "--id", vm.Names("vm-1").Process}
	tests := []struct {
		name     string
		launcher ExecLauncher
		netns    string
		wantName string
		wantArgs []string
	}{
		{"host namespace", ExecLauncher{Binary: "/usr/bin/firecracker"}, "", "/usr/bin/firecracker", base},
		{"vm namespace", ExecLauncher{Binary: "/usr/bin/firecracker"}, "pdnet-3", "ip",
			append([]string{"netns", "exec", "pdnet-3", "/usr/bin/firecracker"}, base...)},
		{"custom ip", ExecLauncher{Binary: "/fc", IPPath: "/sbin/ip"}, "pdnet-3", "/sbin/ip",
			append([]string{"netns", "exec", "pdnet-3", "/fc"}, base...)},
	}
	for _, tt := range tests {
		r := req
		r.Netns = tt.netns
		name, args := tt.launcher.command(r).Argv()
		if name != tt.wantName || !slices.Equal(args, tt.wantArgs) {
			t.Errorf("%s: command = %s %q, want %s %q", tt.name, name, args, tt.wantName, tt.wantArgs)
		}
	}
}

// TestExecLauncherWithFakeBinary runs the real process path (exec, pid file, log, socket wait,
// Ctrl+Alt+Del, kill, cleanup) against this test binary acting as firecracker (see TestMain): it
// serves the schema-validating fake API on --api-sock.
func TestExecLauncherWithFakeBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	loadSpec(t) // fail here, clearly, if the description is missing; the child reads it too
	t.Setenv(fakeBinaryEnv, "1")
	ctx := t.Context()
	d, err := New(Config{Binary: self, StartTimeout: 20 * time.Second, StopTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	spec := testSpec(t, dir)
	spec.Net = vm.Network{} // no namespace: `ip netns exec` needs root and a real namespace
	names := spec.Names()

	if err := d.Create(ctx, spec); err != nil {
		t.Fatal(logOf(dir, names), err)
	}
	pid := readPID(t, filepath.Join(dir, names.PIDFile))
	if err := d.Start(ctx, testID); err != nil {
		t.Fatal(logOf(dir, names), err)
	}
	wantState(t, d, vm.StateRunning)
	if err := d.Stop(ctx, testID); err != nil {
		t.Fatal(err)
	}
	wantState(t, d, vm.StateStopped)
	if processAlive(pid) {
		t.Errorf("pid %d still alive after Stop", pid)
	}
	if log := logOf(dir, names); !strings.Contains(log, "guest shut down") {
		t.Errorf("the fake did not shut down on Ctrl+Alt+Del; log:\n%s", log)
	}

	if err := d.Start(ctx, testID); err != nil { // a new process, configured again
		t.Fatal(logOf(dir, names), err)
	}
	pid = readPID(t, filepath.Join(dir, names.PIDFile))
	if err := d.Destroy(ctx, testID); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid) {
		t.Errorf("pid %d still alive after Destroy", pid)
	}
	assertGone(t, spec.SocketPath(), spec.OverlayPath, filepath.Join(dir, names.PIDFile), filepath.Join(dir, names.LogFile))
}

func TestExecLauncherProcessThatNeverServes(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skip("SKIP: /bin/true not present")
	}
	d, err := New(Config{Binary: "/bin/true", StartTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t, t.TempDir())
	spec.Net = vm.Network{}
	err = d.Create(t.Context(), spec)
	if err == nil || !strings.Contains(err.Error(), "exited before its API socket appeared") {
		t.Fatalf("Create with a binary that exits at once = %v", err)
	}
	assertGone(t, spec.SocketPath(), filepath.Join(spec.SocketDir, spec.Names().PIDFile))
}

// TestRealFirecracker runs only where a firecracker binary is installed (real KVM hosts): it starts
// the process, checks the API answers on the socket, and destroys it. No guest is booted.
func TestRealFirecracker(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("firecracker")
	if err != nil {
		t.Skip("SKIP: firecracker binary not installed")
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		t.Skip("SKIP: /dev/kvm not available")
	}
	dir := t.TempDir()
	spec := testSpec(t, dir)
	spec.Net = vm.Network{}
	d, err := New(Config{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	names := spec.Names()
	proc, err := d.cfg.Launcher.Launch(t.Context(), LaunchRequest{
		Names: names, SocketPath: spec.SocketPath(),
		PIDPath: filepath.Join(dir, names.PIDFile), LogPath: filepath.Join(dir, names.LogFile),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer waitExit(t.Context(), proc, 0)
	if err := waitForSocket(t.Context(), spec.SocketPath(), proc, 10*time.Second); err != nil {
		t.Fatal(err, logOf(dir, names))
	}
	info, err := NewClient(spec.SocketPath()).DescribeInstance(t.Context())
	if err != nil || info.State != InstanceNotStarted || info.ID != names.Process {
		t.Fatalf("DescribeInstance = %+v, %v", info, err)
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
	// The state follows the command name in parentheses: "pid (comm) S ...".
	if i := strings.LastIndexByte(string(data), ')'); i >= 0 && i+2 < len(data) {
		return data[i+2] != 'Z'
	}
	return true
}

func logOf(dir string, names vm.ResourceNames) string {
	data, _ := os.ReadFile(filepath.Join(dir, names.LogFile))
	return string(data)
}
