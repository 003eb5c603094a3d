package qemu

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/polydev/polydev/vm"
)

const argsID = "vm-args"

// argsSpec is a VM description with fixed paths, for command-line tables (nothing is touched).
func argsSpec() vm.Spec {
	return vm.Spec{
		ID:          argsID,
		VCPUs:       2,
		MemoryMiB:   1024,
		KernelPath:  "/img/vmlinux",
		InitrdPath:  "/img/initrd.img",
		KernelArgs:  "console=ttyS0 quiet",
		RootImage:   "/img/rootfs.ext4",
		OverlayPath: "/data/vm.overlay",
		SocketDir:   "/run/pd",
	}
}

func userNet(fwd ...vm.HostForward) vm.Network {
	return vm.Network{User: &vm.UserNet{
		HostForwards: fwd,
		GuestForwards: []vm.GuestForward{{
			Guest:   netip.MustParseAddrPort("10.0.2.100:3128"),
			Command: []string{"/usr/bin/polydev", "egress-pipe", "/run/pd,x/pdvm-1.egress"},
		}},
	}}
}

func TestArgsFullCommandLine(t *testing.T) {
	t.Parallel()
	s := argsSpec()
	s.Net = userNet(vm.HostForward{Host: netip.MustParseAddrPort("127.0.0.1:41000"), GuestPort: 6080})
	got, err := Args(ArgsRequest{Spec: s, Accel: AccelTCG, HostMHz: 2445})
	if err != nil {
		t.Fatal(err)
	}
	p := vm.Names(argsID).Process
	want := []string{
		"-name", "guest=" + p + ",process=" + p,
		"-M", "microvm,pit=on,rtc=on",
		"-accel", "tcg,tb-size=256", "-cpu", "max",
		"-smp", "2", "-m", "1024M",
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
		"-kernel", "/img/vmlinux", "-initrd", "/img/initrd.img",
		"-append", "console=ttyS0 quiet tsc_early_khz=2445000 tsc=reliable",
		"-drive", "file=/data/vm.overlay,format=qcow2,if=none,id=root,discard=unmap",
		"-device", "virtio-blk-device,drive=root",
		"-netdev", "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:41000-:6080,guestfwd=tcp:10.0.2.100:3128-cmd:'/usr/bin/polydev' 'egress-pipe' '/run/pd,,x/pdvm-1.egress'",
		"-device", "virtio-net-device,netdev=net0",
		"-qmp", "unix:/run/pd/" + vm.Names(argsID).Socket + ",server=on,wait=off",
		"-S",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("args\n got %q\nwant %q", got, want)
	}
}

// TestArgsTable checks the pieces that vary; each want is a run of consecutive arguments that must
// appear, each absent an argument that must not.
func TestArgsTable(t *testing.T) {
	t.Parallel()
	tap := &vm.TAP{
		Name: "pdvt-0123456789", Netns: "pdvn-0123456789", MAC: net.HardwareAddr{0x06, 0, 192, 168, 100, 2},
		GuestIP: netip.MustParseAddr("192.168.100.2"), Gateway: netip.MustParseAddr("192.168.100.1"), PrefixLen: 24,
	}
	tests := []struct {
		name   string
		edit   func(*ArgsRequest)
		want   [][]string
		absent []string
	}{
		{"kvm", func(r *ArgsRequest) { r.Accel = AccelKVM },
			[][]string{{"-accel", "kvm", "-cpu", "host,-arch-capabilities"}, {"-append", "console=ttyS0 quiet"}},
			[]string{"max", "tcg,tb-size=256"}},
		{"tcg without host MHz has no tsc_early_khz", func(r *ArgsRequest) { r.HostMHz = 0 },
			[][]string{{"-append", "console=ttyS0 quiet tsc=reliable"}}, nil},
		{"caller's tsc_early_khz wins", func(r *ArgsRequest) { r.Spec.KernelArgs = "tsc_early_khz=1000" },
			[][]string{{"-append", "tsc_early_khz=1000 tsc=reliable"}}, nil},
		{"caller's tsc= wins", func(r *ArgsRequest) { r.Spec.KernelArgs = "quiet tsc=unstable" },
			[][]string{{"-append", "quiet tsc=unstable tsc_early_khz=3000000"}}, nil},
		{"default kernel args", func(r *ArgsRequest) { r.Spec.KernelArgs = "" },
			[][]string{{"-append", DefaultKernelArgs + " tsc_early_khz=3000000 tsc=reliable"}}, nil},
		{"no initrd", func(r *ArgsRequest) { r.Spec.InitrdPath = "" }, nil, []string{"-initrd"}},
		{"no network", func(r *ArgsRequest) {}, nil, []string{"-netdev"}},
		{"tap", func(r *ArgsRequest) { r.Spec.Net = vm.Network{TAP: tap} },
			[][]string{{"-netdev", "tap,id=net0,ifname=pdvt-0123456789,script=no,downscript=no",
				"-device", "virtio-net-device,netdev=net0,mac=06:00:c0:a8:64:02"},
				// No DHCP server on a TAP: the guest's init takes its address from the command line.
				{"-append", "console=ttyS0 quiet tsc_early_khz=3000000 tsc=reliable polydev.ip=192.168.100.2/24 polydev.gw=192.168.100.1"}},
			[]string{"user"}},
		{"user without forwards", func(r *ArgsRequest) { r.Spec.Net = vm.Network{User: &vm.UserNet{}} },
			[][]string{{"-netdev", "user,id=net0,restrict=on"}}, nil},
		{"golden image read-only without overlay", func(r *ArgsRequest) { r.Spec.OverlayPath = "" },
			[][]string{{"-drive", "file=/img/rootfs.ext4,format=raw,if=none,id=root,readonly=on"}}, nil},
		{"qcow2 golden", func(r *ArgsRequest) { r.Spec.OverlayPath, r.Spec.RootImage = "", "/img/root.qcow2" },
			[][]string{{"-drive", "file=/img/root.qcow2,format=qcow2,if=none,id=root,readonly=on"}}, nil},
		{"snapshot-capable memory", func(r *ArgsRequest) { r.MemPath, r.MemShared = "/data/vm.mem", true },
			[][]string{
				{"-M", "microvm,pit=on,rtc=on,memory-backend=mem0"},
				{"-m", "1024M"},
				{"-object", "memory-backend-file,id=mem0,size=1024M,mem-path=/data/vm.mem,share=on"},
			}, []string{"-incoming"}},
		{"restored clone", func(r *ArgsRequest) { r.MemPath, r.MemoryMiB, r.Incoming = "/snap/golden.mem", 2048, true },
			[][]string{
				{"-m", "2048M"},
				{"-object", "memory-backend-file,id=mem0,size=2048M,mem-path=/snap/golden.mem,share=off"},
				{"-S", "-incoming", "defer"},
			}, nil},
		{"commas in paths are escaped", func(r *ArgsRequest) {
			r.Spec.OverlayPath, r.Spec.SocketDir, r.MemPath = "/d/a,b.overlay", "/run/x,y", "/m,em"
		}, [][]string{
			{"-drive", "file=/d/a,,b.overlay,format=qcow2,if=none,id=root,discard=unmap"},
			{"-qmp", "unix:/run/x,,y/" + vm.Names(argsID).Socket + ",server=on,wait=off"},
			{"-object", "memory-backend-file,id=mem0,size=1024M,mem-path=/m,,em,share=off"},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := ArgsRequest{Spec: argsSpec(), Accel: AccelTCG, HostMHz: 3000}
			tt.edit(&req)
			got, err := Args(req)
			if err != nil {
				t.Fatal(err)
			}
			for _, run := range tt.want {
				if !containsRun(got, run) {
					t.Errorf("args lack %q\nargs %q", run, got)
				}
			}
			for _, a := range tt.absent {
				if slices.Contains(got, a) {
					t.Errorf("args contain %q\nargs %q", a, got)
				}
			}
		})
	}
}

func TestArgsRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*ArgsRequest)
		want string
	}{
		{"host forward on another loopback address", func(r *ArgsRequest) {
			r.Spec.Net = userNet(vm.HostForward{Host: netip.MustParseAddrPort("127.0.0.2:41000"), GuestPort: 6080})
		}, "only 127.0.0.1"},
		{"host forward on IPv6 loopback", func(r *ArgsRequest) {
			r.Spec.Net = userNet(vm.HostForward{Host: netip.MustParseAddrPort("[::1]:41000"), GuestPort: 6080})
		}, "only 127.0.0.1"},
		{"host forward on a public address", func(r *ArgsRequest) {
			r.Spec.Net = userNet(vm.HostForward{Host: netip.MustParseAddrPort("0.0.0.0:41000"), GuestPort: 6080})
		}, "loopback"},
		{"IPv6 guest forward", func(r *ArgsRequest) {
			r.Spec.Net = vm.Network{User: &vm.UserNet{GuestForwards: []vm.GuestForward{{
				Guest: netip.MustParseAddrPort("[fd00::1]:80"), Command: []string{"/bin/true"}}}}}
		}, "IPv4"},
		{"quote in a guest forward's command", func(r *ArgsRequest) {
			r.Spec.Net = vm.Network{User: &vm.UserNet{GuestForwards: []vm.GuestForward{{
				Guest: netip.MustParseAddrPort("10.0.2.100:3128"), Command: []string{"/bin/sh", "-c", "x' 'y"}}}}}
		}, "quote"},
		{"invalid spec", func(r *ArgsRequest) { r.Spec.VCPUs = 0 }, "vcpus"},
	}
	for _, tt := range tests {
		req := ArgsRequest{Spec: argsSpec(), Accel: AccelTCG}
		tt.edit(&req)
		_, err := Args(req)
		if !errors.Is(err, vm.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want ErrInvalidSpec mentioning %q", tt.name, err, tt.want)
		}
	}
	if _, err := Args(ArgsRequest{Spec: argsSpec(), Accel: AccelAuto}); err == nil {
		t.Error("Args accepted an unresolved accelerator")
	}
}

func TestOverlayArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		golden string
		want   []string
	}{
		{"/img/rootfs.ext4", []string{"create", "-f", "qcow2", "-F", "raw", "-b", "/img/rootfs.ext4", "/d/o"}},
		{"/img/root.qcow2", []string{"create", "-f", "qcow2", "-F", "qcow2", "-b", "/img/root.qcow2", "/d/o"}},
	}
	for _, tt := range tests {
		if got := OverlayArgs(tt.golden, "/d/o"); !slices.Equal(got, tt.want) {
			t.Errorf("OverlayArgs(%s) = %q, want %q", tt.golden, got, tt.want)
		}
	}
}

func containsRun(args, run []string) bool {
	for i := 0; i+len(run) <= len(args); i++ {
		if slices.Equal(args[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
