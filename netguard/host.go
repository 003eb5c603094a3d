package netguard

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// target is a URL or dial host after normalisation: exactly one of addr
// (an IP literal in whatever spelling) and name (a DNS name) is set.
type target struct {
	addr netip.Addr
	name string // lower case, no trailing dot
}

// canonical is the spelling put back into URLs, so the client dials exactly
// what was checked.
func (t target) canonical() string {
	if t.addr.IsValid() {
		return t.addr.String()
	}
	return t.name
}

var (
	errNonASCIIHost = errors.New("host must be ASCII; enter internationalised names in their xn-- form")
	errBadHostChar  = errors.New("host contains a character not allowed in DNS names")
	errBadLabel     = errors.New("host has an empty or over-long DNS label")
	errBadIPv4      = errors.New("host looks like an IPv4 address but is not a valid one")
	errBadIPv6      = errors.New("host is not a valid IPv6 address")
)

// parseHost normalises a host the way the clients that would dial it do.
// bracketed says the host came from [...] in a URL and must be IPv6.
func parseHost(h string, bracketed bool) (target, error) {
	if bracketed || strings.Contains(h, ":") {
		a, err := netip.ParseAddr(h)
		if err != nil || !a.Is6() {
			return target{}, errBadIPv6
		}
		return target{addr: a}, nil
	}
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			return target{}, errNonASCIIHost
		}
	}
	h = strings.ToLower(h)
	if a, isIPv4, err := parseIPv4Forms(h); isIPv4 {
		return target{addr: a}, err
	}
	name := strings.TrimSuffix(h, ".")
	if len(name) == 0 || len(name) > 253 {
		return target{}, errBadLabel
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return target{}, errBadLabel
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return target{}, errBadHostChar
			}
		}
	}
	return target{name: name}, nil
}

// parseIPv4Forms implements the WHATWG URL "IPv4 parser", which matches
// inet_aton as used by curl and getaddrinfo: 1 to 4 dot-separated parts,
// each decimal, 0x-hex or 0-octal, the last part filling the remaining
// bytes (so 127.1 is 127.0.0.1 and 2130706433 is 127.0.0.1). isIPv4 is true
// when the host ends in a number; such a host is never a DNS name to a
// browser, so if it does not parse it is an error rather than a name.
func parseIPv4Forms(h string) (a netip.Addr, isIPv4 bool, err error) {
	parts := strings.Split(h, ".")
	if len(parts) > 1 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	if !endsInNumber(parts[len(parts)-1]) {
		return netip.Addr{}, false, nil
	}
	if len(parts) > 4 {
		return netip.Addr{}, true, errBadIPv4
	}
	var v uint64
	for i, p := range parts {
		n, ok := parseIPv4Number(p)
		if !ok {
			return netip.Addr{}, true, errBadIPv4
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, true, errBadIPv4
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, true, errBadIPv4
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true, nil
}

func endsInNumber(last string) bool {
	if last == "" {
		return false
	}
	if strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := parseIPv4Number(last)
	return ok
}

func parseIPv4Number(s string) (uint64, bool) {
	base := 10
	switch {
	case s == "":
		return 0, false
	case strings.HasPrefix(s, "0x"):
		s, base = s[2:], 16
		if s == "" {
			return 0, true // WHATWG: a bare "0x" is zero
		}
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	// With an explicit base ParseUint takes no sign, prefix or underscore,
	// so only digits of that base get through. Overflow is rejected, which
	// is the right answer: any such part is out of range anyway.
	n, err := strconv.ParseUint(s, base, 64)
	return n, err == nil
}

// reservedNames are names that must never be trusted to DNS: RFC 6761 says
// localhost is loopback whatever a resolver claims, and the metadata names
// resolve to the instance metadata service inside clouds. Each is judged as
// the address it stands for, so the allow list can still permit it.
var reservedNames = map[string]netip.Addr{
	"localhost":                  netip.MustParseAddr("127.0.0.1"),
	"localhost.localdomain":      netip.MustParseAddr("127.0.0.1"),
	"ip6-localhost":              netip.MustParseAddr("::1"),
	"ip6-loopback":               netip.MustParseAddr("::1"),
	"metadata":                   netip.MustParseAddr("169.254.169.254"),
	"metadata.google.internal":   netip.MustParseAddr("169.254.169.254"),
	"metadata.goog":              netip.MustParseAddr("169.254.169.254"),
	"instance-data":              netip.MustParseAddr("169.254.169.254"),
	"instance-data.ec2.internal": netip.MustParseAddr("169.254.169.254"),
}

// reservedName returns the address a reserved name stands for.
func reservedName(name string) (netip.Addr, bool) {
	if a, ok := reservedNames[name]; ok {
		return a, true
	}
	if strings.HasSuffix(name, ".localhost") {
		return reservedNames["localhost"], true
	}
	return netip.Addr{}, false
}
