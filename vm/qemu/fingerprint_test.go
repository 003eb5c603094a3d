package qemu

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polydev/polydev/vm"
)

// fakeQEMU writes an executable that answers --version like QEMU, with version v.
func fakeQEMU(t *testing.T, path, v string) {
	t.Helper()
	script := "#!/bin/sh\necho 'QEMU emulator version " + v + "'\necho 'Copyright (c) 2003-2022 Fabrice Bellard'\n"
	if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotFingerprint: the fingerprint is the same for every VM of one configuration (ids,
// socket dirs, overlays, host ports, TAP names differ) and changes with the QEMU version, the
// binary's bytes, the accelerator and the machine.
func TestSnapshotFingerprint(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("SKIP: no /bin/sh for the fake qemu")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "qemu-system-x86_64")
	fakeQEMU(t, bin, "7.2.22")
	fp := func(bin string, accel Accel, spec vm.Spec) string {
		t.Helper()
		d, err := New(Config{Binary: bin, Accel: accel, Launcher: &fakeLauncher{}, Runner: &fakeRunner{}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := d.SnapshotFingerprint(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := testSpec(dir)
	want := fp(bin, AccelTCG, base)
	if !strings.HasPrefix(want, "QEMU emulator version 7.2.22\n") || strings.Contains(want, "Copyright") {
		t.Fatalf("fingerprint %q", want)
	}

	other := testSpec(t.TempDir())
	other.ID = "another-vm"
	other.OverlayPath = filepath.Join(other.SocketDir, vm.Names(other.ID).Overlay)
	other.Net.User.HostForwards[0].Host = netip.MustParseAddrPort("127.0.0.1:42999")
	if got := fp(bin, AccelTCG, other); got != want {
		t.Fatalf("another VM of the same configuration:\n%s\nwant\n%s", got, want)
	}
	tap := func(name string) vm.Spec {
		s := testSpec(dir)
		s.Net = vm.Network{TAP: &vm.TAP{Name: name, Netns: "ns-" + name, MAC: []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56},
			GuestIP: netip.MustParseAddr("10.0.2.15"), Gateway: netip.MustParseAddr("10.0.2.2"), PrefixLen: 24}}
		return s
	}
	if a, b := fp(bin, AccelTCG, tap("pdvt-aaaaaaaaaa")), fp(bin, AccelTCG, tap("pdvt-bbbbbbbbbb")); a != b || a == want {
		t.Fatalf("tap VMs: %v (equal), %v (differs from user mode)", a == b, a != want)
	}

	newer := filepath.Join(t.TempDir(), "qemu-system-x86_64")
	fakeQEMU(t, newer, "8.2.0")
	rebuilt := filepath.Join(t.TempDir(), "qemu-system-x86_64")
	fakeQEMU(t, rebuilt, "7.2.22")
	if err := os.WriteFile(rebuilt, append(must(os.ReadFile(rebuilt)), "# patched\n"...), 0o700); err != nil {
		t.Fatal(err)
	}
	vcpus, mem, kernel := testSpec(dir), testSpec(dir), testSpec(dir)
	vcpus.VCPUs, mem.MemoryMiB, kernel.KernelPath = 4, 2048, "/images/def/vmlinux"
	for name, got := range map[string]string{
		"qemu version":   fp(newer, AccelTCG, base),
		"rebuilt binary": fp(rebuilt, AccelTCG, base),
		"kvm":            fp(bin, AccelKVM, base),
		"vcpus":          fp(bin, AccelTCG, vcpus),
		"memory":         fp(bin, AccelTCG, mem),
		"kernel":         fp(bin, AccelTCG, kernel),
	} {
		if got == want {
			t.Errorf("%s: the fingerprint did not change", name)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
