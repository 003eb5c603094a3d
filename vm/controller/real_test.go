package controller

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/qemu"
)

// realEnv is newEnv with the real QEMU driver (TCG), the golden image in POLYDEV_VM_IMAGE and the
// real /proc table (scoped to the test's run directory), in user-mode networking.
func realEnv(t *testing.T, snapshot bool) *env { return realEnvOn(t, snapshot, vm.NetUser) }

// realEnvOn is realEnv in network mode mode; in tap mode the caller sets Config.Network.
func realEnvOn(t *testing.T, snapshot bool, mode vm.NetMode) *env {
	bin, errQ := exec.LookPath(qemu.DefaultBinary)
	image := os.Getenv("POLYDEV_VM_IMAGE")
	switch {
	case errQ != nil:
		t.Skip("SKIP: qemu-system-x86_64 not installed")
	case image == "":
		t.Skip("SKIP: POLYDEV_VM_IMAGE not set (an image directory built by polydev image build) " + os.Getenv("POLYDEV_VM_IMAGE_ERROR"))
	}
	e := newEnv(t, mode, func(c *Config) {
		c.Image = Image{
			KernelPath: filepath.Join(image, "vmlinux"), InitrdPath: filepath.Join(image, "initrd.img"),
			RootImage: filepath.Join(image, "rootfs.ext4"),
		}
		if snapshot {
			c.Image.SnapshotDir = filepath.Join(t.TempDir(), "snapshot")
		}
		// The product's own readiness test (agent status "healthy": display, VNC, websockify and
		// browser), with a bound for a loaded 2-core TCG host.
		c.HealthTimeout, c.HealthPoll = 300*time.Second, 500*time.Millisecond
		c.Health = nil
		c.Processes = ProcTable{Root: "/proc", RunDir: c.RunDir}
		c.Now = nil
	})
	e.cfg.Driver = realDriver(t, bin, e.cfg.VMDir)
	if mode == vm.NetUser {
		e.c = e.newController()
	}
	return e
}

// realDriver is a QEMU driver under TCG whose VMs keep their RAM in vmDir (snapshot-capable).
func realDriver(t *testing.T, bin, vmDir string) *qemu.Driver {
	d, err := qemu.New(qemu.Config{Binary: bin, Accel: qemu.AccelTCG, MemoryDir: vmDir, StartTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRealQEMUCold: create (cold boot until the agent is healthy), reach the agent and noVNC through
// Dial, stop, start, delete; nothing is left on the host.
func TestRealQEMUCold(t *testing.T) {
	e := realEnv(t, false)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	u := e.user(polydev.TierPro)
	began := time.Now()
	v, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		e.logTails()
		t.Fatal(err)
	}
	t.Logf("cold create: running and healthy after %v", time.Since(began).Round(time.Millisecond))
	if body, err := e.get(u, v.ID, polydev.VMPortAgent, "/health"); err != nil || !strings.Contains(body, `"browser":true`) {
		t.Fatalf("agent: %q, %v", body, err)
	}
	if _, err := e.c.Stop(ctx, u, v.ID); err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	if _, err := e.c.Start(ctx, u, v.ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: healthy after %v", time.Since(began).Round(time.Millisecond))
	if err := e.c.Delete(ctx, u, v.ID); err != nil {
		t.Fatal(err)
	}
	e.assertNothingHeld(v.ID)
	if procs, err := e.cfg.Processes.List(ctx); err != nil || len(procs) != 0 {
		t.Fatalf("processes left: %v, %v", procs, err)
	}
	if got := e.files(); len(got) != 0 {
		t.Fatalf("files left: %v", got)
	}
}

// TestRealQEMUGolden: the golden snapshot is made once and a VM is restored from it.
func TestRealQEMUGolden(t *testing.T) {
	e := realEnv(t, true)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	began := time.Now()
	if err := e.c.PrepareGolden(ctx); err != nil {
		e.logTails()
		t.Fatal(err)
	}
	t.Logf("golden snapshot ready after %v", time.Since(began).Round(time.Millisecond))
	u := e.user(polydev.TierPro)
	began = time.Now()
	v, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		e.logTails()
		t.Fatal(err)
	}
	t.Logf("restored create: running and healthy after %v", time.Since(began).Round(time.Millisecond))
	if n := counterValue(e.c.metrics.creates.WithLabelValues(pathRestore)); n != 1 {
		t.Fatalf("the VM was not restored (restore creates %v)", n)
	}
	if _, err := e.get(u, v.ID, polydev.VMPortAgent, "/health"); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Delete(ctx, u, v.ID); err != nil {
		t.Fatal(err)
	}
	e.assertNothingHeld(v.ID)
	if procs, err := e.cfg.Processes.List(ctx); err != nil || len(procs) != 0 {
		t.Fatalf("processes left: %v, %v", procs, err)
	}
}

// TestRealQEMUGoldenRestart: a second controller over the same directories (a server restart, with
// a new QEMU driver) verifies the saved golden snapshot and restores its first VM from it, without
// booting a golden VM.
func TestRealQEMUGoldenRestart(t *testing.T) {
	e := realEnv(t, true)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	began := time.Now()
	if err := e.c.PrepareGolden(ctx); err != nil {
		e.logTails()
		t.Fatal(err)
	}
	t.Logf("first start: golden snapshot made after %v", time.Since(began).Round(time.Millisecond))
	if err := e.c.Close(ctx); err != nil {
		t.Fatal(err)
	}

	bin, _ := exec.LookPath(qemu.DefaultBinary)
	e.cfg.Driver = realDriver(t, bin, e.cfg.VMDir)
	c2 := e.newController()
	began = time.Now()
	if err := c2.StartServices(ctx); err != nil {
		t.Fatal(err)
	}
	u := e.user(polydev.TierPro)
	v, err := c2.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		e.logTails()
		t.Fatal(err)
	}
	t.Logf("after the restart: first VM running and healthy %v after StartServices", time.Since(began).Round(time.Millisecond))
	made, reused := counterValue(c2.metrics.golden.WithLabelValues("made")), counterValue(c2.metrics.golden.WithLabelValues("reused"))
	restored, cold := counterValue(c2.metrics.creates.WithLabelValues(pathRestore)), counterValue(c2.metrics.creates.WithLabelValues(pathCold))
	if made != 0 || reused != 1 || restored != 1 || cold != 0 {
		t.Fatalf("after the restart: golden made %v, reused %v; creates restored %v, cold %v", made, reused, restored, cold)
	}
	e.c = c2
	if body, err := e.get(u, v.ID, polydev.VMPortAgent, "/health"); err != nil || !strings.Contains(body, `"browser":true`) {
		t.Fatalf("agent of the restored VM: %q, %v", body, err)
	}
	if err := c2.Delete(ctx, u, v.ID); err != nil {
		t.Fatal(err)
	}
	e.assertNothingHeld(v.ID)
}

// logTails shows the end of every hypervisor log left in the run directory (a failed VM keeps its).
func (e *env) logTails() {
	logs, _ := filepath.Glob(filepath.Join(e.cfg.RunDir, "*.log"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		lines := strings.Split(string(b), "\n")
		e.t.Logf("%s (last lines):\n%s", filepath.Base(l), strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}
