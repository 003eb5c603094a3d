package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKernelProbe runs the probe against stand-in QEMU binaries: one whose "kernel" reaches init,
// one that hangs silently (PVM's /dev/kvm), one that exits at once.
func TestKernelProbe(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	boots := script("boots", `echo "[    0.9] Run /bin/true as init process"; sleep 30`)
	hangs := script("hangs", `sleep 30`)
	dies := script("dies", `echo "qemu: KVM: entry failed" >&2; exit 1`)
	for _, tc := range []struct {
		name, bin string
		want      string // "" = success
	}{
		{"kernel reaches init", boots, ""},
		{"kernel hangs", hangs, "did not reach init"},
		{"qemu fails", dies, "entry failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := KernelProbe(tc.bin, "/img/vmlinux", "/img/initrd.img", 300*time.Millisecond)(t.Context(), AccelKVM)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("probe failed: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("probe error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestKernelProbeReal probes this host's /dev/kvm with the golden image's kernel. Whatever the
// verdict, Probe must return a usable accelerator and, for TCG, say why.
func TestKernelProbeReal(t *testing.T) {
	bin, err := exec.LookPath(DefaultBinary)
	image := os.Getenv("POLYDEV_VM_IMAGE")
	if err != nil || image == "" {
		t.Skip("SKIP: needs qemu-system-x86_64 and POLYDEV_VM_IMAGE")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	accel, why := Probe(ctx, "", KernelProbe(bin, filepath.Join(image, "vmlinux"), filepath.Join(image, "initrd.img"), 20*time.Second))
	t.Logf("accelerator %s (%v)", accel, why)
	if accel != AccelKVM && accel != AccelTCG || accel == AccelTCG && why == nil {
		t.Fatalf("Probe = %q, %v", accel, why)
	}
	// The same kernel must reach init under TCG: the probe itself works on this host.
	if err := KernelProbe(bin, filepath.Join(image, "vmlinux"), filepath.Join(image, "initrd.img"), 40*time.Second)(ctx, AccelTCG); err != nil {
		t.Fatalf("the kernel did not reach init under TCG: %v", err)
	}
}
