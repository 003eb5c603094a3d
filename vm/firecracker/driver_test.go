package firecracker

import (
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
)

const testID = "0b8f6c1e-4f7a-4f43-9a55-5d2d1c0e9f10"

// testSpec describes a VM whose runtime files live in dir; the overlay file exists, as the
// controller would have prepared it.
func testSpec(t *testing.T, dir string) vm.Spec {
	t.Helper()
	overlay := filepath.Join(dir, vm.Names(testID).Overlay)
	if err := os.WriteFile(overlay, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return vm.Spec{
		ID:          testID,
		VCPUs:       2,
		MemoryMiB:   1024,
		KernelPath:  "/images/abc/vmlinux",
		InitrdPath:  "/images/abc/initrd.img",
		RootImage:   "/images/abc/rootfs.ext4",
		OverlayPath: overlay,
		SocketDir:   dir,
		Net: vm.Network{TAP: &vm.TAP{
			Name:      "pdtap-0",
			Netns:     "pdnet-0",
			MAC:       net.HardwareAddr{0x06, 0, 192, 168, 100, 2},
			GuestIP:   netip.MustParseAddr("192.168.100.2"),
			Gateway:   netip.MustParseAddr("192.168.100.1"),
			PrefixLen: 24,
		}},
	}
}

func newTestDriver(t *testing.T, l *fakeLauncher) *Driver {
	t.Helper()
	d, err := New(Config{Launcher: l, StartTimeout: 5 * time.Second, StopTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// body returns a recorded body re-encoded as JSON, for readable whole-body comparisons.
func body(t *testing.T, rec *recorder, method, path string) string {
	t.Helper()
	b, err := json.Marshal(rec.find(t, method, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantState(t *testing.T, d *Driver, want vm.State) {
	t.Helper()
	got, err := d.State(t.Context(), testID)
	if err != nil || got != want {
		t.Fatalf("State() = %q, %v; want %q", got, err, want)
	}
}

func TestBootSequenceValidatesAgainstSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*vm.Spec)
		calls  []string
		bodies map[string]string // "PUT /boot-source" → exact JSON body
	}{
		{
			name:   "full: overlay and tap",
			mutate: func(*vm.Spec) {},
			calls: []string{
				"PUT /machine-config",
				"PUT /boot-source",
				"PUT /drives/rootfs",
				"PUT /drives/overlay",
				"PUT /network-interfaces/eth0",
				"PUT /actions InstanceStart",
			},
			bodies: map[string]string{
				"PUT /machine-config":          `{"mem_size_mib":1024,"vcpu_count":2}`,
				"PUT /boot-source":             `{"boot_args":"console=ttyS0 reboot=k panic=1 pci=off polydev.ip=192.168.100.2/24 polydev.gw=192.168.100.1","initrd_path":"/images/abc/initrd.img","kernel_image_path":"/images/abc/vmlinux"}`,
				"PUT /drives/rootfs":           `{"drive_id":"rootfs","is_read_only":true,"is_root_device":true,"path_on_host":"/images/abc/rootfs.ext4"}`,
				"PUT /network-interfaces/eth0": `{"guest_mac":"06:00:c0:a8:64:02","host_dev_name":"pdtap-0","iface_id":"eth0"}`,
				"PUT /actions":                 `{"action_type":"InstanceStart"}`,
			},
		},
		{
			name: "minimal: no overlay, no network, own kernel args, no initrd",
			mutate: func(s *vm.Spec) {
				s.OverlayPath, s.Net, s.InitrdPath, s.KernelArgs = "", vm.Network{}, "", "console=ttyS0 quiet"
			},
			calls: []string{
				"PUT /machine-config",
				"PUT /boot-source",
				"PUT /drives/rootfs",
				"PUT /actions InstanceStart",
			},
			bodies: map[string]string{
				"PUT /boot-source": `{"boot_args":"console=ttyS0 quiet","kernel_image_path":"/images/abc/vmlinux"}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newFakeLauncher(t)
			d := newTestDriver(t, l)
			spec := testSpec(t, t.TempDir())
			tt.mutate(&spec)

			if err := d.Create(t.Context(), spec); err != nil {
				t.Fatal(err)
			}
			wantState(t, d, vm.StateCreated)
			if err := d.Start(t.Context(), testID); err != nil {
				t.Fatal(err)
			}
			wantState(t, d, vm.StateRunning)

			l.rec.checkValid(t)
			if got := l.rec.calls(); !slices.Equal(got, tt.calls) {
				t.Fatalf("boot sequence\n got %q\nwant %q", got, tt.calls)
			}
			for call, want := range tt.bodies {
				method, path, _ := strings.Cut(call, " ")
				if got := body(t, l.rec, method, path); got != want {
					t.Errorf("%s body\n got %s\nwant %s", call, got, want)
				}
			}
			if spec.OverlayPath != "" {
				overlay := l.rec.find(t, "PUT", "/drives/overlay")
				if overlay["is_read_only"] != false || overlay["is_root_device"] != false || overlay["path_on_host"] != spec.OverlayPath {
					t.Errorf("overlay drive = %v, want writable, not root, at %s", overlay, spec.OverlayPath)
				}
			}
			if err := d.Destroy(t.Context(), testID); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func countCalls(rec *recorder, call string) int {
	n := 0
	for _, c := range rec.calls() {
		if c == call {
			n++
		}
	}
	return n
}

func assertGone(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists (stat: %v)", p, err)
		}
	}
}
