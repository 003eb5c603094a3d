package agent

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
)

// The host-only rule. The agent listens on every guest address because the host reaches it through the
// VMM's forward (user networking: from the gateway 10.0.2.2; TAP: from the host's end of the link), but
// the guest's own processes, the browser and any page it loads above all, reach the same socket too.
// What a guest process cannot choose without raw sockets is its source address: a connection it opens to
// any guest address comes from loopback or a guest address. So the endpoints that change the guest or
// carry secrets (/sync, /token, /login, /credentials) answer 403 unless the peer is neither loopback nor
// one of the guest's own interface addresses, checked per request (DHCP may change them). Root in the
// guest could forge a source address, but root in the guest owns the browser anyway.

// AddrLister lists the guest's own interface addresses.
type AddrLister func() ([]netip.Addr, error)

func interfaceAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out, nil
}

// checkHostPeer refuses callers inside the guest: loopback, unspecified and the guest's own addresses.
// An error listing the addresses fails closed, as a 500.
func checkHostPeer(local AddrLister, remote, what string) error {
	forbidden := &Error{Status: http.StatusForbidden, Code: "forbidden", Message: what + " is for the host only"}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		forbidden.Cause = err
		return forbidden
	}
	peer := ap.Addr().Unmap()
	if peer.IsLoopback() || peer.IsUnspecified() {
		return forbidden
	}
	if local == nil {
		local = interfaceAddrs
	}
	addrs, err := local()
	if err != nil {
		return fmt.Errorf("list guest addresses: %w", err)
	}
	for _, a := range addrs {
		if a.Unmap() == peer {
			return forbidden
		}
	}
	return nil
}
