package netguard

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Resolver is the part of *net.Resolver that netguard needs; tests inject a
// fake so that no real DNS is ever queried.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Policy decides which non-public destinations are allowed. The zero value
// and a nil *Policy allow nothing private. A Policy is immutable and safe for
// concurrent use.
type Policy struct {
	all      bool
	prefixes []netip.Prefix
	resolver Resolver
	// proxy picks the egress proxy for a request (nil: the environment's
	// HTTPS_PROXY, HTTP_PROXY and NO_PROXY, see [Policy.Transport]).
	proxy func(*http.Request) (*url.URL, error)
	// self is the server's own listener, never a permitted destination (see Self).
	self *Self
}

// ParseAllowList builds a Policy from the value of
// POLYDEV_ALLOW_PRIVATE_UPSTREAMS:
//
//   - "" (or "0", "false"): no private destination is allowed;
//   - "1", "true" or "all": every destination is allowed (local model
//     servers, tests);
//   - otherwise a comma-separated list of CIDR prefixes or bare addresses,
//     e.g. "127.0.0.0/8,10.1.2.0/24,::1".
//
// "0" and "false" are accepted because an operator writing them means "off",
// and failing start-up over it would be pedantic.
func ParseAllowList(s string) (*Policy, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "0", "false":
		return &Policy{}, nil
	case "1", "true", "all":
		return &Policy{all: true}, nil
	}
	p := &Policy{}
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		pfx, err := parseAllowEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("netguard: %s entry %q: %w", EnvAllowList, entry, err)
		}
		p.prefixes = append(p.prefixes, pfx)
	}
	return p, nil
}

func parseAllowEntry(entry string) (netip.Prefix, error) {
	switch strings.ToLower(entry) {
	case "":
		return netip.Prefix{}, fmt.Errorf("empty entry (stray comma?)")
	case "1", "true", "all", "0", "false":
		return netip.Prefix{}, fmt.Errorf("%q must be the whole value, not part of a list", entry)
	}
	var pfx netip.Prefix
	if strings.Contains(entry, "/") {
		var err error
		if pfx, err = netip.ParsePrefix(entry); err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR prefix: %w", err)
		}
	} else {
		addr, err := netip.ParseAddr(entry)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not an IP address or CIDR prefix")
		}
		if addr.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("IPv6 zones are not allowed")
		}
		pfx = netip.PrefixFrom(addr, addr.BitLen())
	}
	// Addresses are unmapped before matching, so a ::ffff:a.b.c.d/n entry
	// must become the IPv4 prefix it describes or it would never match.
	if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
	}
	return pfx.Masked(), nil
}

// WithResolver returns a copy of p that resolves names with r, both at save
// time and at connect time. A nil r means net.DefaultResolver.
func (p *Policy) WithResolver(r Resolver) *Policy {
	var c Policy
	if p != nil {
		c = *p
	}
	c.resolver = r
	return &c
}

// WithProxy returns a copy of p whose transports take the egress proxy for
// each request from f (nil: from the environment). f returning a nil URL
// means a direct connection.
func (p *Policy) WithProxy(f func(*http.Request) (*url.URL, error)) *Policy {
	var c Policy
	if p != nil {
		c = *p
	}
	c.proxy = f
	return &c
}

// String describes the policy for start-up logs.
func (p *Policy) String() string {
	switch {
	case p == nil || (!p.all && len(p.prefixes) == 0):
		return "no private upstreams allowed"
	case p.all:
		return "all upstreams allowed"
	}
	parts := make([]string, len(p.prefixes))
	for i, pfx := range p.prefixes {
		parts[i] = pfx.String()
	}
	return "private upstreams allowed: " + strings.Join(parts, ",")
}

func (p *Policy) lookup() Resolver {
	if p == nil || p.resolver == nil {
		return net.DefaultResolver
	}
	return p.resolver
}

// listed reports whether the operator allowed a; a must be unmapped and
// zone-free, because netip.Prefix.Contains is false for zoned addresses.
func (p *Policy) listed(a netip.Addr) bool {
	if p == nil {
		return false
	}
	if p.all {
		return true
	}
	for _, pfx := range p.prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// refusal returns why a may not be dialed under p, or "" when it may.
func (p *Policy) refusal(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	if p.listed(a) {
		return ""
	}
	if r := specialReason(a); r != "" {
		return r
	}
	if e, ok := embeddedIPv4(a); ok {
		if p.listed(e) {
			return ""
		}
		if r := specialReason(e); r != "" {
			return "an IPv6 address embedding " + e.String() + ", " + r
		}
	}
	return ""
}

// check turns a refusal into the error callers see.
func (p *Policy) check(dest string, a netip.Addr) *BlockedError {
	r := p.refusal(a)
	if r == "" {
		return nil
	}
	return &BlockedError{Dest: dest, Addr: a, Reason: r, AllowListable: true}
}

// isPublic reports whether a is an ordinary internet address, i.e. one no
// allow list is needed for.
func isPublic(a netip.Addr) bool {
	return (*Policy)(nil).refusal(a) == ""
}
