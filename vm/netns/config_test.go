package netns

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/polydev/polydev/vm/netpool"
)

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"zero value", Config{}, ""},
		{"test uplink", Config{UplinkNetns: "pdt-0123"}, ""},
		{"uplink with slash", Config{UplinkNetns: "../etc"}, "forbidden character"},
		{"uplink too long", Config{UplinkNetns: "a-very-long-netns-name"}, "1..15"},
		{"IPv6 guest", Config{GuestAddr: netip.MustParsePrefix("fd00::2/64")}, "IPv4"},
		{"gateway outside", Config{GuestGateway: netip.MustParseAddr("10.9.9.9")}, "guest's subnet"},
		{"gateway is guest", Config{GuestGateway: netip.MustParseAddr("10.0.2.15")}, "guest's subnet"},
		{"gateway is DNS", Config{GuestGateway: netip.MustParseAddr("10.0.2.3")}, "both"},
		{"multicast MAC", Config{GuestMAC: net.HardwareAddr{1, 0, 0, 0, 0, 1}}, "unicast"},
		{"port 0", Config{Ports: []uint16{3000, 0}}, "port 0"},
		{"allow without port", Config{Allow: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), 0)}}, "with a port"},
		{"IPv6 deny", Config{Deny: []netip.Prefix{netip.MustParsePrefix("::1/128")}}, "IPv4"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg)
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("New: %v, want %q", err, c.want)
			}
		})
	}
}

// Bad arguments are refused before anything runs (the ip binary does not even exist here).
func TestArgumentErrors(t *testing.T) {
	t.Parallel()
	m, err := New(Config{IPPath: "/nonexistent/ip"})
	if err != nil {
		t.Fatal(err)
	}
	good := netpool.Slot{
		IP: netip.MustParseAddr("192.168.100.2"), Gateway: netip.MustParseAddr("192.168.100.1"),
		Subnet: netip.MustParsePrefix("192.168.100.0/24"),
	}
	ctx := context.Background()
	outside := good
	outside.IP = netip.MustParseAddr("10.0.0.2")
	for name, err := range map[string]error{
		"empty id":            func() error { _, err := m.Setup(ctx, "", good); return err }(),
		"zero slot":           func() error { _, err := m.Setup(ctx, "vm", netpool.Slot{}); return err }(),
		"slot outside":        func() error { _, err := m.Setup(ctx, "vm", outside); return err }(),
		"teardown empty id":   m.Teardown(ctx, ""),
		"unpublished port":    func() error { _, err := m.Dial(ctx, "vm", good, 22); return err }(),
		"dial with zero slot": func() error { _, err := m.Dial(ctx, "vm", netpool.Slot{}, 3000); return err }(),
	} {
		if err == nil || strings.Contains(err.Error(), "/nonexistent/ip") {
			t.Errorf("%s: err = %v, want a refusal before running ip", name, err)
		}
	}
}

func TestRemoveRefusesForeignNames(t *testing.T) {
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"eth0", "pdnet-1", "pdvm-0123456789", "pdvn-xyz"} {
		if err := m.Remove(t.Context(), name); err == nil {
			t.Errorf("Remove(%q) = nil, want a refusal", name)
		}
	}
}
