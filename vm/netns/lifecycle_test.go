package netns

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/polydev/polydev/vm"
)

// The real TAP device: owned as configured, with the inner gateway's address and MAC, and a network
// description the drivers accept.
func TestSetupRealTAP(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{TAPUser: "65534", TAPGroup: "65534"})
	e.m.guestStandIn = nil
	ctx := context.Background()
	id := e.vmID()
	slot, err := e.pool.Allocate(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	netw, err := e.m.Setup(ctx, id, slot)
	if err != nil {
		t.Fatal(err)
	}
	names := vm.Names(id)
	if err := netw.Validate(); err != nil {
		t.Fatalf("Setup returned an invalid network: %v", err)
	}
	tap := netw.TAP
	if tap.Name != names.TAP || tap.Netns != names.Netns || tap.MAC.String() != "52:54:00:12:34:56" ||
		tap.GuestIP.String() != "10.0.2.15" || tap.Gateway.String() != "10.0.2.2" || tap.PrefixLen != 24 {
		t.Errorf("network = %+v", *tap)
	}

	out, err := exec.Command("ip", "-n", names.Netns, "tuntap", "show").CombinedOutput()
	if err != nil || !strings.Contains(string(out), names.TAP+": tap persist user 65534 group 65534") {
		t.Errorf("tuntap show: %q, %v", out, err)
	}
	out, err = exec.Command("ip", "-n", names.Netns, "-br", "addr", "show", "dev", names.TAP).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.0.2.2/24") {
		t.Errorf("TAP addresses: %q, %v", out, err)
	}
	out, err = exec.Command("ip", "-n", names.Netns, "-br", "link", "show", "dev", names.TAP).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "52:55:0a:00:02:02") {
		t.Errorf("TAP MAC: %q, %v", out, err)
	}
	// Forwarding is on in the VM namespace and untouched in the uplink.
	for ns, want := range map[string]string{names.Netns: "1\n", e.uplink: "0\n"} {
		var got []byte
		if err := inNetns(ns, func() (err error) {
			got, err = os.ReadFile("/proc/sys/net/ipv4/ip_forward")
			return err
		}); err != nil || string(got) != want {
			t.Errorf("ip_forward in %s = %q, %v; want %q", ns, got, err, want)
		}
	}
	// Nothing but the outer veth end was added to the uplink.
	if got := links(t, e.m, e.uplink); !slices.Equal(got, []string{"lo", names.Netns}) {
		t.Errorf("uplink links = %v", got)
	}
}

// Teardown removes the namespace, the TAP and both veth ends, leaves other VMs alone, and is
// idempotent; Setup over leftovers of the same VM starts afresh.
func TestTeardown(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	idA, idB := e.vmID(), e.vmID()
	e.setupGuest(ctx, idA)
	slotB, guestB := e.setupGuest(ctx, idB)
	serve(t, guestB, "10.0.2.15:3000", "B")
	nsA, nsB := vm.Names(idA).Netns, vm.Names(idB).Netns

	got, err := e.m.List(ctx)
	if err != nil || !slices.Equal(got, sorted(nsA, nsB)) {
		t.Fatalf("List = %v, %v", got, err)
	}
	for range 2 {
		if err := e.m.Teardown(ctx, idA); err != nil {
			t.Fatalf("Teardown: %v", err)
		}
	}
	if netnsExists(t, e.m, nsA) {
		t.Error("namespace still exists")
	}
	if got := links(t, e.m, e.uplink); !slices.Equal(got, []string{"lo", nsB}) {
		t.Errorf("uplink links after Teardown = %v", got)
	}
	if got, err := e.m.List(ctx); err != nil || !slices.Equal(got, []string{nsB}) {
		t.Errorf("List after Teardown = %v, %v", got, err)
	}
	// B lost nothing: it shares the pool gateway address with A's removed veth.
	conn, err := e.m.Dial(ctx, idB, slotB, 3000)
	if err != nil {
		t.Fatalf("Dial B after A's teardown: %v", err)
	}
	if body, err := get(conn); err != nil || body != "B from 192.168.100.1" {
		t.Errorf("B after A's teardown: %q, %v", body, err)
	}
	// A second Setup of B (a controller retrying after a crash) replaces the first.
	e.mu.Lock()
	e.guests[idB] = testNetns(t)
	e.mu.Unlock()
	if _, err := e.m.Setup(ctx, idB, slotB); err != nil {
		t.Fatalf("Setup over leftovers: %v", err)
	}
	if got := links(t, e.m, e.uplink); !slices.Equal(got, []string{"lo", nsB}) {
		t.Errorf("uplink links after a repeated Setup = %v", got)
	}
}

// Reclaim removes namespaces and stray outer veth ends of VMs that are not live, and nothing else.
func TestReclaim(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{})
	ctx := context.Background()
	live, dead, stray := e.vmID(), e.vmID(), e.vmID()
	slotLive, guestLive := e.setupGuest(ctx, live)
	e.setupGuest(ctx, dead)
	serve(t, guestLive, "10.0.2.15:3000", "live")
	// A veth end left in the uplink without its namespace (a crash between steps).
	nsStray := vm.Names(stray).Netns
	mustIP(t, "-n", e.uplink, "link", "add", nsStray, "type", "veth", "peer", "name", "other")

	removed, err := e.m.Reclaim(ctx, []string{live})
	if err != nil {
		t.Fatal(err)
	}
	if want := sorted(vm.Names(dead).Netns, nsStray); !slices.Equal(removed, want) {
		t.Errorf("Reclaim removed %v, want %v", removed, want)
	}
	if got, err := e.m.List(ctx); err != nil || !slices.Equal(got, []string{vm.Names(live).Netns}) {
		t.Errorf("List after Reclaim = %v, %v", got, err)
	}
	if got := links(t, e.m, e.uplink); !slices.Equal(got, []string{"lo", vm.Names(live).Netns}) {
		t.Errorf("uplink links after Reclaim = %v", got)
	}
	conn, err := e.m.Dial(ctx, live, slotLive, 3000)
	if err != nil {
		t.Fatalf("live VM after Reclaim: %v", err)
	}
	if body, err := get(conn); err != nil || body != "live from 192.168.100.1" {
		t.Errorf("live VM after Reclaim: %q, %v", body, err)
	}
}

// A Setup that fails at any step leaves no namespace and no veth end behind.
func TestSetupFailureLeavesNothing(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		cfg   Config
		guest string // stand-in namespace; "" for a real TAP
		want  string // in the error, to show where Setup stopped
	}{
		{name: "guest link fails", guest: "pdt-missing", want: "pdt-missing"},
		{name: "rules fail last, after every device", cfg: Config{NFTPath: "/nonexistent/nft"}, want: "/nonexistent/nft"},
		{name: "TAP owner unknown", cfg: Config{TAPUser: "no-such-user-pd"}, want: "tuntap"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEnv(t, c.cfg)
			ctx := context.Background()
			id := e.vmID()
			e.m.guestStandIn = func(string) string { return c.guest }
			if c.guest == "" {
				e.m.guestStandIn = nil
			}
			slot, err := e.pool.Allocate(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.m.Setup(ctx, id, slot)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Setup error = %v, want one mentioning %q", err, c.want)
			}
			if netnsExists(t, e.m, vm.Names(id).Netns) {
				t.Error("namespace left behind")
			}
			if got := links(t, e.m, e.uplink); !slices.Equal(got, []string{"lo"}) {
				t.Errorf("uplink links left behind: %v", got)
			}
		})
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
