package netns

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// TableName is the nftables table (family inet) Setup loads into every VM namespace.
const TableName = "polydev"

// deniedRanges are the destinations no guest may reach by default: this host, private networks and
// everything that is not the public internet.
var deniedRanges = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("224.0.0.0/3"), // multicast, reserved and broadcast
}

// ruleParams is everything the ruleset depends on. Names come from vm.Names (validated interface
// names), addresses and ports are typed values, so nothing in the text comes from client input.
type ruleParams struct {
	TAP      string       // the guest's device in the VM namespace
	Uplink   string       // the inner veth end
	SlotIP   netip.Addr   // host-visible address
	Subnet   netip.Prefix // the pool's subnet, denied to guests
	GuestIP  netip.Addr
	GuestDNS netip.Addr
	DNS      netip.Addr // upstream resolver; invalid for none
	Ports    []uint16
	Allow    []netip.AddrPort
	Deny     []netip.Prefix
	NoEgress bool
	Proxy    netip.AddrPort // the egress proxy's listener in the namespace; invalid for none
}

// ruleset is the nft script for one VM namespace. It replaces the table atomically (nft -f applies
// a file as one transaction).
func ruleset(p ruleParams) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	tap, up := strconv.Quote(p.TAP), strconv.Quote(p.Uplink)
	ports := portSet(p.Ports)

	w("table inet %s", TableName)
	w("delete table inet %s", TableName)
	w("table inet %s {", TableName)

	w("\tset deny {")
	w("\t\ttype ipv4_addr; flags interval;")
	w("\t\telements = { %s }", prefixList(append(append(slices.Clone(deniedRanges), p.Subnet.Masked()), p.Deny...)))
	w("\t}")

	w("\tchain prerouting {")
	w("\t\ttype nat hook prerouting priority dstnat; policy accept;")
	w("\t\tiifname %s ip daddr %s tcp dport %s dnat ip to %s", up, p.SlotIP, ports, p.GuestIP)
	if p.DNS.IsValid() {
		for _, proto := range []string{"udp", "tcp"} {
			w("\t\tiifname %s ip daddr %s %s dport 53 dnat ip to %s", tap, p.GuestDNS, proto, netip.AddrPortFrom(p.DNS, 53))
		}
	}
	w("\t}")

	w("\tchain postrouting {")
	w("\t\ttype nat hook postrouting priority srcnat; policy accept;")
	w("\t\toifname %s masquerade", up)
	w("\t}")

	w("\tchain input {")
	w("\t\ttype filter hook input priority filter; policy drop;")
	w("\t\tiif \"lo\" accept")
	w("\t\tct state established,related accept")
	if p.Proxy.IsValid() {
		w("\t\tiifname %s ip daddr %s tcp dport %d accept", tap, p.Proxy.Addr(), p.Proxy.Port())
	}
	w("\t\tiifname %s meta l4proto tcp reject with tcp reset", tap)
	w("\t\tiifname %s reject with icmpx type admin-prohibited", tap)
	w("\t}")

	w("\tchain forward {")
	w("\t\ttype filter hook forward priority filter; policy drop;")
	w("\t\tct state established,related accept")
	w("\t\tct state invalid drop")
	w("\t\tiifname %s oifname %s ip daddr %s tcp dport %s ct status dnat accept", up, tap, p.GuestIP, ports)
	if p.DNS.IsValid() {
		w("\t\tiifname %s oifname %s ip daddr %s th dport 53 ct status dnat accept", tap, up, p.DNS)
	}
	for _, a := range p.Allow {
		w("\t\tiifname %s oifname %s ip daddr %s tcp dport %d accept", tap, up, a.Addr(), a.Port())
	}
	if !p.NoEgress {
		w("\t\tiifname %s oifname %s ip daddr @deny meta l4proto tcp reject with tcp reset", tap, up)
		w("\t\tiifname %s oifname %s ip daddr @deny reject with icmpx type admin-prohibited", tap, up)
		w("\t\tiifname %s oifname %s meta nfproto ipv4 accept", tap, up)
	}
	w("\t\tiifname %s meta l4proto tcp reject with tcp reset", tap)
	w("\t\tiifname %s reject with icmpx type admin-prohibited", tap)
	w("\t}")
	w("}")
	return b.String()
}

// portSet formats ports as an nft anonymous set.
func portSet(ports []uint16) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

// prefixList formats prefixes for an interval set, dropping those inside another (nft rejects
// overlapping elements) and duplicates.
func prefixList(ps []netip.Prefix) string {
	ps = slices.Clone(ps)
	for i := range ps {
		ps[i] = ps[i].Masked()
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Bits() - b.Bits() })
	var kept []netip.Prefix
	for _, p := range ps {
		if !slices.ContainsFunc(kept, func(k netip.Prefix) bool { return k.Contains(p.Addr()) }) {
			kept = append(kept, p)
		}
	}
	slices.SortFunc(kept, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	s := make([]string, len(kept))
	for i, p := range kept {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
