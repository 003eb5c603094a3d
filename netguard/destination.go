package netguard

import (
	"context"
	"net"
	"net/http/httptrace"
	"net/netip"
	"sync/atomic"
)

// Destination tells, after a request, whether the upstream it reached is a private host: a
// non-public address the allow list let through (a local model server, an internal service).
// Callers hide such an upstream's error text from clients, since it describes the operator's
// network rather than the provider's answer.
//
// It is judged per request, not per connection: a reused connection reports the address it was
// dialed to (httptrace's GotConn). Through an egress proxy the connection's address is the
// proxy's, so the request's destination is judged instead, by every address its name resolves to
// (the same check [Policy.Transport] makes before asking the proxy).
type Destination struct {
	private atomic.Bool
	proxied atomic.Bool
}

type destinationKey struct{}

// TraceDestination returns a context for one upstream request that records where it went in the
// returned Destination. Only transports made by [Policy.Transport] can tell a proxied request.
func TraceDestination(ctx context.Context) (context.Context, *Destination) {
	d := &Destination{}
	ctx = context.WithValue(ctx, destinationKey{}, d)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: d.gotConn}), d
}

// Private reports whether the request reached a non-public address.
func (d *Destination) Private() bool { return d != nil && d.private.Load() }

func (d *Destination) gotConn(info httptrace.GotConnInfo) {
	if d.proxied.Load() || info.Conn == nil {
		return
	}
	if tcp, ok := info.Conn.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(tcp.IP); ok && !isPublic(a) {
			d.private.Store(true)
		}
	}
}

// destinationFrom is the request's Destination, if it is being traced.
func destinationFrom(ctx context.Context) *Destination {
	d, _ := ctx.Value(destinationKey{}).(*Destination)
	return d
}
