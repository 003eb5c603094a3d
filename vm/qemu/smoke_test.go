package qemu

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
)

// TestRealQEMU boots the golden image under real QEMU (TCG unless a probe boot says KVM), waits for
// the agent's /health through a 127.0.0.1 host forward, snapshots it, restores a clone, and checks
// that Destroy leaves nothing behind. POLYDEV_VM_IMAGE is an image directory holding vmlinux,
// initrd.img and rootfs.ext4. Budget: about 35 s for the cold boot, a few seconds per restore.
func TestRealQEMU(t *testing.T) {
	bin, errQ := exec.LookPath(DefaultBinary)
	image := os.Getenv("POLYDEV_VM_IMAGE")
	if errQ != nil || image == "" {
		t.Skip("SKIP: qemu-system-x86_64 or POLYDEV_VM_IMAGE missing")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	memDir, runDir, snapDir := shortDir(t), shortDir(t), shortDir(t)
	d, err := New(Config{Binary: bin, Accel: AccelTCG, MemoryDir: memDir, StartTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	boot := func(id string) (vm.Spec, string) {
		port := freePort(t)
		return vm.Spec{
			ID: id, VCPUs: 2, MemoryMiB: 1024,
			KernelPath:  filepath.Join(image, "vmlinux"),
			InitrdPath:  filepath.Join(image, "initrd.img"),
			RootImage:   filepath.Join(image, "rootfs.ext4"),
			OverlayPath: filepath.Join(runDir, vm.Names(id).Overlay),
			SocketDir:   runDir,
			Net: vm.Network{User: &vm.UserNet{HostForwards: []vm.HostForward{
				{Host: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), GuestPort: 3000},
			}}},
		}, "http://127.0.0.1:" + strconv.Itoa(int(port)) + "/health"
	}

	golden, health := boot("smoke-golden")
	if err := d.Create(ctx, golden); err != nil {
		t.Fatal(err)
	}
	defer d.Destroy(context.Background(), golden.ID)
	if err := d.Start(ctx, golden.ID); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, ctx, health, 60*time.Second, runDir, golden)
	snap := vm.SnapshotFiles{StatePath: filepath.Join(snapDir, "g.vmstate"), MemPath: filepath.Join(snapDir, "g.mem")}
	if err := d.Snapshot(ctx, golden.ID, snap); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, golden.ID); err != nil {
		t.Fatal(err)
	}

	clone, cloneHealth := boot("smoke-clone")
	if err := d.Restore(ctx, clone, snap); err != nil {
		t.Fatal(err)
	}
	defer d.Destroy(context.Background(), clone.ID)
	waitHealthy(t, ctx, cloneHealth, 20*time.Second, runDir, clone)
	if err := d.Stop(ctx, clone.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, clone.ID); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{runDir, memDir} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("left behind in %s: %v", dir, entries)
		}
	}
}

// waitHealthy polls the agent's /health. hostfwd listens as soon as QEMU runs, so only an HTTP
// answer proves the guest is up.
func waitHealthy(t *testing.T, ctx context.Context, url string, budget time.Duration, dir string, spec vm.Spec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(dir, spec.Names().LogFile))
			t.Fatalf("%s not healthy within %v; log:\n%s", spec.ID, budget, log)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}
