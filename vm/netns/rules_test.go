package netns

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestPrefixList(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   []string
		want string
	}{
		{[]string{"10.0.0.0/8"}, "10.0.0.0/8"},
		{[]string{"192.168.100.0/24", "192.168.0.0/16"}, "192.168.0.0/16"},
		{[]string{"203.0.113.7/32", "203.0.113.7/32", "10.1.2.3/8"}, "10.0.0.0/8, 203.0.113.7/32"},
		{[]string{"8.8.8.8/32", "1.1.1.0/24"}, "1.1.1.0/24, 8.8.8.8/32"},
	} {
		var ps []netip.Prefix
		for _, s := range c.in {
			ps = append(ps, netip.MustParsePrefix(s))
		}
		if got := prefixList(ps); got != c.want {
			t.Errorf("prefixList(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func baseParams() ruleParams {
	return ruleParams{
		TAP: "pdvt-0123456789", Uplink: InnerLink,
		SlotIP: netip.MustParseAddr("192.168.100.2"), Subnet: netip.MustParsePrefix("192.168.100.0/24"),
		GuestIP: DefaultGuestAddr.Addr(), GuestDNS: DefaultGuestDNS, Ports: DefaultPorts,
	}
}

// Every variant of the ruleset is accepted by nft (checked, not applied, in a test namespace) and
// contains the rules its options ask for.
func TestRulesetVariants(t *testing.T) {
	t.Parallel()
	requireNet(t)
	ns := testNetns(t)
	for _, c := range []struct {
		name    string
		edit    func(*ruleParams)
		want    []string
		notWant []string
	}{
		{"default", func(*ruleParams) {}, []string{
			`iifname "veth0" ip daddr 192.168.100.2 tcp dport { 3000, 6080 } dnat ip to 10.0.2.15`,
			`oifname "veth0" masquerade`,
			`iifname "pdvt-0123456789" oifname "veth0" meta nfproto ipv4 accept`,
			`192.168.0.0/16`,
		}, []string{"dport 53"}},
		{"dns, allow, deny", func(p *ruleParams) {
			p.DNS = netip.MustParseAddr("9.9.9.9")
			p.Allow = []netip.AddrPort{netip.MustParseAddrPort("192.168.100.1:8080")}
			p.Deny = []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32")}
		}, []string{
			`udp dport 53 dnat ip to 9.9.9.9:53`,
			`tcp dport 53 dnat ip to 9.9.9.9:53`,
			`ip daddr 192.168.100.1 tcp dport 8080 accept`,
			`198.51.100.7/32`,
		}, nil},
		{"no egress", func(p *ruleParams) { p.NoEgress = true }, nil, []string{"nfproto ipv4 accept"}},
		{"other ports", func(p *ruleParams) { p.Ports = []uint16{9222} }, []string{"tcp dport { 9222 }"}, []string{"3000"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := baseParams()
			c.edit(&p)
			rules := ruleset(p)
			for _, w := range c.want {
				if !strings.Contains(rules, w) {
					t.Errorf("ruleset lacks %q:\n%s", w, rules)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(rules, w) {
					t.Errorf("ruleset has %q:\n%s", w, rules)
				}
			}
			cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-c", "-f", "-")
			cmd.Stdin = strings.NewReader(rules)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("nft -c: %v: %s\n%s", err, out, rules)
			}
		})
	}
}

// With DenyEgress the guest reaches nothing outside but its DNS resolver, through the inner DNS
// address.
func TestDNSWithoutEgress(t *testing.T) {
	t.Parallel()
	resolver := netip.MustParseAddr("203.0.113.53")
	e := newTestEnv(t, Config{DNS: resolver, DenyEgress: true})
	ctx := context.Background()
	id := e.vmID()
	slot, guest := e.setupGuest(ctx, id)
	mustIP(t, "-n", e.uplink, "addr", "add", resolver.String()+"/32", "dev", "lo")
	mustIP(t, "-n", e.uplink, "addr", "add", publicAddr.String()+"/32", "dev", "lo")
	serve(t, e.uplink, netip.AddrPortFrom(publicAddr, 8080).String(), "public")
	echoUDP(t, e.uplink, netip.AddrPortFrom(resolver, 53))

	var conn net.Conn
	if err := inNetns(guest, func() (err error) {
		conn, err = net.Dial("udp", netip.AddrPortFrom(DefaultGuestDNS, 53).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("query")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, err := conn.Read(buf)
	if want := "query from " + slot.IP.String(); err != nil || string(buf[:n]) != want {
		t.Errorf("DNS through %v: %q, %v; want %q", DefaultGuestDNS, buf[:n], err, want)
	}

	if got, err := dialFrom(ctx, e.uplink, netip.AddrPortFrom(publicAddr, 8080)); err != nil || got != "public from 203.0.113.1" {
		t.Fatalf("uplink → public service: %q, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if got, err := dialFrom(ctx, guest, netip.AddrPortFrom(publicAddr, 8080)); err == nil {
		t.Errorf("guest reached the internet with DenyEgress: %q", got)
	}
}

// echoUDP answers each datagram on addr in namespace ns with its payload and the sender's address.
func echoUDP(t *testing.T, ns string, addr netip.AddrPort) {
	t.Helper()
	var pc net.PacketConn
	if err := inNetns(ns, func() (err error) {
		pc, err = net.ListenPacket("udp", addr.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(from.String())
			_, _ = pc.WriteTo(append(buf[:n:n], " from "+host...), from)
		}
	}()
}
