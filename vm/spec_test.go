package vm

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func validSpec() Spec {
	return Spec{
		ID:          "0b8f6c1e-4f7a-4f43-9a55-5d2d1c0e9f10",
		VCPUs:       2,
		MemoryMiB:   1024,
		KernelPath:  "/images/abc/vmlinux",
		InitrdPath:  "/images/abc/initrd.img",
		KernelArgs:  "console=ttyS0 reboot=k panic=1",
		RootImage:   "/images/abc/rootfs.ext4",
		OverlayPath: "/data/vms/pdvm-0123456789.overlay",
		SocketDir:   "/run/polydev",
		Net: Network{TAP: &TAP{
			Name:      "pdtap-0",
			Netns:     "pdnet-0",
			MAC:       net.HardwareAddr{0x06, 0, 192, 168, 100, 2},
			GuestIP:   netip.MustParseAddr("192.168.100.2"),
			Gateway:   netip.MustParseAddr("192.168.100.1"),
			PrefixLen: 24,
		}},
	}
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	loop := netip.MustParseAddrPort("127.0.0.1:40001")
	tests := []struct {
		name    string
		mutate  func(*Spec)
		wantErr string // substring; empty means valid
	}{
		{"valid tap", func(*Spec) {}, ""},
		{"valid no network", func(s *Spec) { s.Net = Network{} }, ""},
		{"valid user", func(s *Spec) {
			s.Net = Network{User: &UserNet{
				HostForwards:  []HostForward{{Host: loop, GuestPort: 6080}},
				GuestForwards: []GuestForward{{Guest: netip.MustParseAddrPort("10.0.2.100:80"), Command: []string{"/bin/pipe", "a b"}}},
			}}
		}, ""},
		{"empty id", func(s *Spec) { s.ID = "" }, "id must be"},
		{"id with slash", func(s *Spec) { s.ID = "../etc" }, "outside [A-Za-z0-9-]"},
		{"id too long", func(s *Spec) { s.ID = strings.Repeat("a", MaxIDLen+1) }, "id must be"},
		{"zero vcpus", func(s *Spec) { s.VCPUs = 0 }, "vcpus 0"},
		{"too many vcpus", func(s *Spec) { s.VCPUs = 33 }, "vcpus 33"},
		{"tiny memory", func(s *Spec) { s.MemoryMiB = 64 }, "memory 64"},
		{"no kernel", func(s *Spec) { s.KernelPath = "" }, "kernel path is required"},
		{"relative kernel", func(s *Spec) { s.KernelPath = "vmlinux" }, "not absolute"},
		{"relative initrd", func(s *Spec) { s.InitrdPath = "initrd" }, "initrd path"},
		{"no root image", func(s *Spec) { s.RootImage = "" }, "root image is required"},
		{"overlay is golden", func(s *Spec) { s.OverlayPath = s.RootImage }, "must not be the golden"},
		{"no socket dir", func(s *Spec) { s.SocketDir = "" }, "socket dir is required"},
		{"socket path too long", func(s *Spec) { s.SocketDir = "/" + strings.Repeat("d", 100) }, "unix socket limit"},
		{"newline in args", func(s *Spec) { s.KernelArgs = "a\nb" }, "newline"},
		{"both networks", func(s *Spec) { s.Net.User = &UserNet{} }, "both tap and user"},
		{"long tap name", func(s *Spec) { s.Net.TAP.Name = "pdtap-0123456789" }, "1..15"},
		{"slash in netns", func(s *Spec) { s.Net.TAP.Netns = "a/b" }, "forbidden"},
		{"multicast mac", func(s *Spec) { s.Net.TAP.MAC = net.HardwareAddr{1, 0, 0, 0, 0, 1} }, "unicast"},
		{"short mac", func(s *Spec) { s.Net.TAP.MAC = net.HardwareAddr{6, 0} }, "6-byte"},
		{"gateway outside", func(s *Spec) { s.Net.TAP.Gateway = netip.MustParseAddr("10.0.0.1") }, "gateway"},
		{"gateway is guest", func(s *Spec) { s.Net.TAP.Gateway = s.Net.TAP.GuestIP }, "gateway"},
		{"ipv6 guest", func(s *Spec) { s.Net.TAP.GuestIP = netip.MustParseAddr("fd00::2") }, "IPv4"},
		{"prefix 31", func(s *Spec) { s.Net.TAP.PrefixLen = 31 }, "prefix length"},
		{"public host forward", func(s *Spec) {
			s.Net = Network{User: &UserNet{HostForwards: []HostForward{{Host: netip.MustParseAddrPort("0.0.0.0:8080"), GuestPort: 80}}}}
		}, "loopback"},
		{"guest forward with a relative command", func(s *Spec) {
			s.Net = Network{User: &UserNet{GuestForwards: []GuestForward{{Guest: netip.MustParseAddrPort("10.0.2.100:80"), Command: []string{"pipe"}}}}}
		}, "absolute program"},
		{"guest forward with a newline", func(s *Spec) {
			s.Net = Network{User: &UserNet{GuestForwards: []GuestForward{{Guest: netip.MustParseAddrPort("10.0.2.100:80"), Command: []string{"/bin/pipe", "a\nb"}}}}}
		}, "newline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := validSpec()
			s.Net.TAP = new(*s.Net.TAP) // each case mutates its own copy
			tt.mutate(&s)
			err := s.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate() = %v, want ErrInvalidSpec containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNetworkModeAndNetmask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		net  Network
		mode NetMode
	}{
		{Network{}, NetNone},
		{Network{TAP: &TAP{}}, NetTAP},
		{Network{User: &UserNet{}}, NetUser},
	}
	for _, tt := range tests {
		if got := tt.net.Mode(); got != tt.mode {
			t.Errorf("Mode() = %q, want %q", got, tt.mode)
		}
	}
	masks := map[int]string{24: "255.255.255.0", 16: "255.255.0.0", 30: "255.255.255.252", 27: "255.255.255.224"}
	for bits, want := range masks {
		if got := (TAP{PrefixLen: bits}).Netmask().String(); got != want {
			t.Errorf("Netmask(/%d) = %s, want %s", bits, got, want)
		}
	}
}
