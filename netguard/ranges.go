package netguard

import "net/netip"

// special lists the address ranges that are not ordinary internet
// destinations, most specific first so the message names the narrowest
// match (the metadata address before link-local, broadcast before reserved).
// Sources: the IANA IPv4 and IPv6 special-purpose address registries plus
// the cloud metadata endpoints.
var special = []struct {
	prefix netip.Prefix
	reason string
}{
	{mustPrefix("169.254.169.254/32"), "the cloud metadata address"},
	{mustPrefix("fd00:ec2::254/128"), "the cloud metadata address"},
	{mustPrefix("0.0.0.0/32"), "an unspecified address"},
	{mustPrefix("255.255.255.255/32"), "the broadcast address"},
	{mustPrefix("0.0.0.0/8"), `a "this network" address`},
	{mustPrefix("10.0.0.0/8"), "a private address"},
	{mustPrefix("100.64.0.0/10"), "a carrier-grade NAT (shared) address"},
	{mustPrefix("127.0.0.0/8"), "a loopback address"},
	{mustPrefix("169.254.0.0/16"), "a link-local address"},
	{mustPrefix("172.16.0.0/12"), "a private address"},
	{mustPrefix("192.0.0.0/24"), "an IETF protocol assignment address"},
	{mustPrefix("192.0.2.0/24"), "a documentation address"},
	{mustPrefix("192.88.99.0/24"), "a deprecated 6to4 relay address"},
	{mustPrefix("192.168.0.0/16"), "a private address"},
	{mustPrefix("198.18.0.0/15"), "a benchmarking address"},
	{mustPrefix("198.51.100.0/24"), "a documentation address"},
	{mustPrefix("203.0.113.0/24"), "a documentation address"},
	{mustPrefix("224.0.0.0/4"), "a multicast address"},
	{mustPrefix("240.0.0.0/4"), "a reserved address"},

	{mustPrefix("::/128"), "an unspecified address"},
	{mustPrefix("::1/128"), "a loopback address"},
	{mustPrefix("64:ff9b:1::/48"), "a local-use NAT64 address"},
	{mustPrefix("100::/64"), "a discard-only address"},
	{mustPrefix("2001:db8::/32"), "a documentation address"},
	// Teredo, benchmarking, ORCHID and friends: nothing an LLM API lives on,
	// and Teredo would tunnel to an IPv4 address we would have to decode.
	{mustPrefix("2001::/23"), "an IETF protocol assignment address"},
	{mustPrefix("3fff::/20"), "a documentation address"},
	{mustPrefix("5f00::/16"), "an SRv6 segment identifier"},
	{mustPrefix("fc00::/7"), "a unique local (private) address"},
	{mustPrefix("fe80::/10"), "a link-local address"},
	{mustPrefix("fec0::/10"), "a deprecated site-local address"},
	{mustPrefix("ff00::/8"), "a multicast address"},
}

var (
	globalUnicast6 = mustPrefix("2000::/3")
	compat6        = mustPrefix("::/96")
	nat64          = mustPrefix("64:ff9b::/96")
	sixToFour      = mustPrefix("2002::/16")
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// specialReason says why a (unmapped, zone-free) is not an ordinary internet
// address, or returns "" if it is one. IPv4-embedding IPv6 ranges are not
// special in themselves: embeddedIPv4 judges them by what they embed.
func specialReason(a netip.Addr) string {
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.reason
		}
	}
	if a.Is6() && !globalUnicast6.Contains(a) && !compat6.Contains(a) && !nat64.Contains(a) {
		return "a reserved IPv6 address"
	}
	return ""
}

// embeddedIPv4 extracts the IPv4 address that some IPv6 forms carry and that
// a stack, a NAT64 gateway or a 6to4 relay may end up connecting to.
// IPv4-mapped addresses are not handled here: callers Unmap them first,
// because for the kernel they are the IPv4 address.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case compat6.Contains(a), nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
