package netns

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

var (
	poolGateway = netip.MustParseAddr("192.168.100.1") // netpool.DefaultCIDR's gateway, the uplink side
	publicAddr  = netip.MustParseAddr("203.0.113.1")   // TEST-NET-3: stands for the internet, in the uplink
)

// Two VMs whose guests use the same inner address are each reached at their own host-visible
// address, and their traffic is confined as doc.go says.
func TestTwoVMsSameInnerAddress(t *testing.T) {
	t.Parallel()
	const allowedPort, deniedPort, nsPort = 7001, 7002, 4000
	e := newTestEnv(t, Config{Allow: []netip.AddrPort{netip.AddrPortFrom(poolGateway, allowedPort)}})
	ctx := context.Background()
	idA, idB := e.vmID(), e.vmID()
	slotA, guestA := e.setupGuest(ctx, idA)
	slotB, guestB := e.setupGuest(ctx, idB)
	if slotA.IP == slotB.IP {
		t.Fatalf("both VMs got %v", slotA.IP)
	}
	inner := DefaultGuestAddr.Addr()
	serve(t, guestA, netip.AddrPortFrom(inner, 3000).String(), "A")
	serve(t, guestB, netip.AddrPortFrom(inner, 3000).String(), "B")
	serve(t, guestB, netip.AddrPortFrom(inner, 6080).String(), "B-vnc")

	// Services in the uplink: one on "the internet", two on the pool gateway (one allowed to guests).
	e.internet()
	serve(t, e.uplink, netip.AddrPortFrom(publicAddr, 8080).String(), "public")
	serve(t, e.uplink, netip.AddrPortFrom(poolGateway, allowedPort).String(), "allowed")
	serve(t, e.uplink, netip.AddrPortFrom(poolGateway, deniedPort).String(), "host-service")
	// A service of VM A's namespace itself, on every address of it.
	nsA := vm.Names(idA).Netns
	serve(t, nsA, "0.0.0.0:4000", "namespace")

	t.Run("uplink reaches published guest ports", func(t *testing.T) {
		for _, c := range []struct {
			id   string
			slot netpool.Slot
			port uint16
			want string
		}{
			{idA, slotA, 3000, "A from 192.168.100.1"},
			{idB, slotB, 3000, "B from 192.168.100.1"},
			{idB, slotB, 6080, "B-vnc from 192.168.100.1"},
		} {
			conn, err := e.m.Dial(ctx, c.id, c.slot, c.port)
			if err != nil {
				t.Fatalf("Dial %v:%d: %v", c.slot.IP, c.port, err)
			}
			if got, err := get(conn); err != nil || got != c.want {
				t.Errorf("%v:%d: got %q, %v; want %q", c.slot.IP, c.port, got, err, c.want)
			}
		}
		if _, err := e.m.Dial(ctx, idA, slotA, 22); err == nil {
			t.Error("Dial to an unpublished port succeeded")
		}
	})

	t.Run("guest egress is masqueraded to its slot address", func(t *testing.T) {
		got, err := dialFrom(ctx, guestA, netip.AddrPortFrom(publicAddr, 8080))
		if want := "public from " + slotA.IP.String(); err != nil || got != want {
			t.Errorf("guest A → internet: got %q, %v; want %q", got, err, want)
		}
		got, err = dialFrom(ctx, guestB, netip.AddrPortFrom(poolGateway, allowedPort))
		if want := "allowed from " + slotB.IP.String(); err != nil || got != want {
			t.Errorf("guest B → allowed host service: got %q, %v; want %q", got, err, want)
		}
	})

	t.Run("guest cannot reach other VMs, the host or its namespace", func(t *testing.T) {
		// Each target answers someone else, so a failure here is the rules' doing.
		if got, err := dialFrom(ctx, e.uplink, netip.AddrPortFrom(poolGateway, deniedPort)); err != nil || got != "host-service from 192.168.100.1" {
			t.Fatalf("uplink → its own service: %q, %v", got, err)
		}
		if got, err := dialFrom(ctx, nsA, netip.AddrPortFrom(DefaultGuestGateway, nsPort)); err != nil || got != "namespace from 10.0.2.2" {
			t.Fatalf("namespace → its own service: %q, %v", got, err)
		}
		for name, target := range map[string]netip.AddrPort{
			"VM B's address":             netip.AddrPortFrom(slotB.IP, 3000),
			"a host service":             netip.AddrPortFrom(poolGateway, deniedPort),
			"its namespace (gateway)":    netip.AddrPortFrom(DefaultGuestGateway, nsPort),
			"its namespace (slot addr)":  netip.AddrPortFrom(slotA.IP, nsPort),
			"its own slot's public port": netip.AddrPortFrom(slotA.IP, 3000),
		} {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if got, err := dialFrom(ctx, guestA, target); err == nil {
				t.Errorf("guest A reached %s (%v): %q", name, target, got)
			}
			cancel()
		}
	})

	t.Run("uplink cannot reach the namespace or unpublished ports", func(t *testing.T) {
		// Dropped, not rejected (no answer to probes), so the attempt ends at the deadline.
		ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		if got, err := dialFrom(ctx, e.uplink, netip.AddrPortFrom(slotA.IP, nsPort)); err == nil {
			t.Errorf("uplink reached VM A's namespace service: %q", got)
		}
	})
}
