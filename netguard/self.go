package netguard

import (
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
)

// Self holds the addresses Polydev itself listens on. An upstream may never point back at them,
// allow list or not: a key aimed at the server would turn one request into many (each a fresh
// request that reaches the same key again). Set it once the listener is open; until then nothing
// is refused for being Self.
type Self struct {
	addrs atomic.Pointer[[]netip.AddrPort]
}

// Set records the listener's address. An unspecified address (0.0.0.0, ::) stands for every
// address of the machine: loopback and each interface's, with the listener's port.
func (s *Self) Set(a net.Addr) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return
	}
	port := uint16(tcp.Port)
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return
	}
	ip = ip.Unmap()
	var out []netip.AddrPort
	if !ip.IsUnspecified() {
		out = append(out, netip.AddrPortFrom(ip, port))
	} else {
		out = append(out, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port), netip.AddrPortFrom(netip.IPv6Loopback(), port))
		if ifs, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range ifs {
				if pfx, err := netip.ParsePrefix(ia.String()); err == nil {
					out = append(out, netip.AddrPortFrom(pfx.Addr().Unmap(), port))
				}
			}
		}
	}
	s.addrs.Store(&out)
}

// is reports whether a:port is one of the server's own addresses. Any 127/8 address counts as
// 127.0.0.1: a loopback listener on 127.0.0.1 is reached through all of them only on some systems,
// but no upstream has a reason to use another loopback address with Polydev's own port.
func (s *Self) is(a netip.Addr, port uint16) bool {
	if s == nil {
		return false
	}
	p := s.addrs.Load()
	if p == nil {
		return false
	}
	a = a.WithZone("").Unmap()
	for _, ap := range *p {
		if ap.Port() != port {
			continue
		}
		if ap.Addr() == a || ap.Addr().Is4() && ap.Addr().IsLoopback() && a.Is4() && a.IsLoopback() {
			return true
		}
	}
	return false
}

// WithSelf returns a copy of p that refuses the server's own addresses in s.
func (p *Policy) WithSelf(s *Self) *Policy {
	var c Policy
	if p != nil {
		c = *p
	}
	c.self = s
	return &c
}

// PublicOnly returns a copy of p without its allow list: only public destinations pass. It keeps
// the resolver, proxy and self settings. Users' own keys get it unless the operator extends the
// allow list to them.
func (p *Policy) PublicOnly() *Policy {
	var c Policy
	if p != nil {
		c = *p
	}
	c.all, c.prefixes = false, nil
	return &c
}

// checkSelf refuses a destination that is the server itself.
func (p *Policy) checkSelf(dest string, a netip.Addr, port string) *BlockedError {
	if p == nil || p.self == nil {
		return nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || !p.self.is(a, uint16(n)) {
		return nil
	}
	return &BlockedError{Dest: dest, Addr: a, Reason: "this Polydev server itself; an upstream cannot point back at it"}
}
