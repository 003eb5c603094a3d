package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// Control is a net.Dialer.Control hook: the kernel-bound address of every
// connection attempt is checked, after all resolution, which is the last
// point where DNS rebinding can be caught. It refuses anything that is not
// TCP or UDP over IP (unix sockets included).
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return &BlockedError{Reason: fmt.Sprintf("network %q is not allowed for upstreams", network)}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Reason: "connection target is not an IP address"}
	}
	if e := p.check(ap.Addr().String(), ap.Addr()); e != nil {
		return e
	}
	if e := p.checkSelf(ap.Addr().String(), ap.Addr(), strconv.Itoa(int(ap.Port()))); e != nil {
		return e
	}
	return nil
}

// DialContext is a drop-in for http.Transport.DialContext. It resolves names
// with the policy's resolver, dials only the permitted addresses (one after
// the other, in resolver order) and installs [Policy.Control] as a second
// check on the socket itself. A name whose addresses are all forbidden fails
// with a *BlockedError without any packet being sent.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, &BlockedError{Reason: fmt.Sprintf("network %q is not allowed for upstreams", network)}
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &BlockedError{Reason: "dial address must be host:port"}
	}
	t, err := parseHost(host, false)
	if err != nil {
		return nil, &BlockedError{Reason: err.Error()}
	}
	addrs, err := p.dialTimeAddrs(ctx, t)
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.Control}
	var blocked, dialErr error
	for _, a := range addrs {
		if !familyMatches(network, a) {
			continue
		}
		e := p.check(t.canonical(), a)
		if e == nil {
			e = p.checkSelf(t.canonical(), a, port)
		}
		if e != nil {
			if blocked == nil {
				blocked = e
			}
			continue
		}
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if dialErr == nil {
			dialErr = err
		}
	}
	switch {
	case dialErr != nil:
		return nil, dialErr
	case blocked != nil:
		return nil, blocked
	}
	return nil, fmt.Errorf("netguard: %s has no %s address", t.canonical(), network)
}

// dialTimeAddrs resolves t. Reserved names are refused up front when the
// address they stand for is forbidden, whatever DNS says about them.
func (p *Policy) dialTimeAddrs(ctx context.Context, t target) ([]netip.Addr, error) {
	if t.addr.IsValid() {
		return []netip.Addr{t.addr}, nil
	}
	if a, ok := reservedName(t.name); ok {
		if e := p.check(t.name, a); e != nil {
			return nil, e
		}
	}
	return p.resolve(ctx, t.name)
}

func familyMatches(network string, a netip.Addr) bool {
	switch network {
	case "tcp4":
		return a.Is4()
	case "tcp6":
		return a.Is6()
	}
	return true
}

// CheckDestination judges host:port the way DialContext judges what it dials, without dialing:
// every address the name resolves to must be permitted, and none may be the server itself. It is
// for callers that hand the connection to someone else, such as the egress proxy chaining through
// the operator's proxy, which resolves the name again (so DNS rebinding is then up to that proxy).
func (p *Policy) CheckDestination(ctx context.Context, host string, port uint16) error {
	_, err := p.checkDestination(ctx, &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))})
	return err
}
