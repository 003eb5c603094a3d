package netpool_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

func TestSlotLayout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cidr      string
		size      int
		index     int
		ip, gw    string
		mac, mask string
	}{
		{"", 253, 0, "192.168.100.2", "192.168.100.1", "06:00:c0:a8:64:02", "255.255.255.0"},
		{"192.168.100.0/24", 253, 252, "192.168.100.254", "192.168.100.1", "06:00:c0:a8:64:fe", "255.255.255.0"},
		{"10.20.0.0/16", 65533, 300, "10.20.1.46", "10.20.0.1", "06:00:0a:14:01:2e", "255.255.0.0"},
		{"172.16.0.0/30", 1, 0, "172.16.0.2", "172.16.0.1", "06:00:ac:10:00:02", "255.255.255.252"},
		{"172.16.5.77/29", 5, 4, "172.16.5.78", "172.16.5.73", "06:00:ac:10:05:4e", "255.255.255.248"}, // host bits ignored
	}
	for _, tt := range tests {
		p, err := netpool.New(netpool.Config{CIDR: tt.cidr, Store: new(netpool.MemStore)})
		if err != nil {
			t.Fatalf("New(%q): %v", tt.cidr, err)
		}
		if p.Size() != tt.size {
			t.Errorf("%q: Size() = %d, want %d", tt.cidr, p.Size(), tt.size)
		}
		s, err := p.Slot(tt.index)
		if err != nil {
			t.Fatalf("%q: Slot(%d): %v", tt.cidr, tt.index, err)
		}
		if s.IP.String() != tt.ip || s.Gateway.String() != tt.gw || s.MAC.String() != tt.mac || s.Netmask().String() != tt.mask {
			t.Errorf("%q slot %d = ip %v gw %v mac %v mask %v; want %s %s %s %s",
				tt.cidr, tt.index, s.IP, s.Gateway, s.MAC, s.Netmask(), tt.ip, tt.gw, tt.mac, tt.mask)
		}
		if len(s.TAP) > 15 || len(s.Netns) > 15 || !strings.HasPrefix(s.TAP, netpool.TAPPrefix) || !strings.HasPrefix(s.Netns, netpool.NetnsPrefix) {
			t.Errorf("%q slot %d names %q %q", tt.cidr, tt.index, s.TAP, s.Netns)
		}
		back, err := p.SlotOf(s.IP)
		if err != nil || back.Index != tt.index {
			t.Errorf("%q: SlotOf(%v) = %d, %v; want %d", tt.cidr, s.IP, back.Index, err, tt.index)
		}
		if _, err := p.Slot(tt.size); err == nil {
			t.Errorf("%q: Slot(%d) past the end succeeded", tt.cidr, tt.size)
		}
		spec := vm.Spec{Net: s.VMNet()}
		if err := spec.Net.Validate(); err != nil {
			t.Errorf("%q: slot %d is not a valid vm.Network: %v", tt.cidr, tt.index, err)
		}
	}
}

func TestSlotOfReservedAddresses(t *testing.T) {
	t.Parallel()
	p, _ := netpool.New(netpool.Config{Store: new(netpool.MemStore)})
	for _, a := range []string{"192.168.100.0", "192.168.100.1", "192.168.100.255", "192.168.101.2", "::1"} {
		if _, err := p.SlotOf(netip.MustParseAddr(a)); err == nil {
			t.Errorf("SlotOf(%s) succeeded; network, gateway, broadcast and foreign addresses are not slots", a)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cidr  string
		store netpool.LeaseStore
		want  string
	}{
		{"192.168.100.0/24", nil, "LeaseStore is required"},
		{"not-a-cidr", new(netpool.MemStore), "bad CIDR"},
		{"fd00::/64", new(netpool.MemStore), "not IPv4"},
		{"10.0.0.0/31", new(netpool.MemStore), "between /16 and /30"},
		{"10.0.0.0/8", new(netpool.MemStore), "between /16 and /30"},
	}
	for _, tt := range tests {
		_, err := netpool.New(netpool.Config{CIDR: tt.cidr, Store: tt.store})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) = %v, want error containing %q", tt.cidr, err, tt.want)
		}
	}
}
