package egress

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

var noDeadline time.Time

// dial connects to host:port, which the allow-list already allowed: through the upstream after
// the guard judged every address of the name, or directly through the guard's dialer.
func (p *Proxy) dial(ctx context.Context, host string, port uint16) (net.Conn, error) {
	target := net.JoinHostPort(host, strconv.Itoa(int(port)))
	if p.cfg.Upstream == nil {
		return p.cfg.Guard.DialContext(ctx, "tcp", target)
	}
	if err := p.cfg.Guard.CheckDestination(ctx, host, port); err != nil {
		return nil, err
	}
	return p.cfg.Upstream.connect(ctx, target)
}

// plainTransport forwards plain-HTTP requests: directly through the guard's dialer, or to the
// upstream as absolute-form requests with its credentials. No connection is reused, so one
// session's requests never ride on a connection opened for another's.
func (p *Proxy) plainTransport() *http.Transport {
	t := &http.Transport{
		DisableKeepAlives:      true,
		ResponseHeaderTimeout:  2 * time.Minute,
		TLSHandshakeTimeout:    p.cfg.DialTimeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	if up := p.cfg.Upstream; up != nil {
		t.Proxy = func(*http.Request) (*url.URL, error) { return up.withUser, nil }
		t.TLSClientConfig = up.tls
		d := &net.Dialer{Timeout: p.cfg.DialTimeout}
		t.DialContext = d.DialContext
	} else {
		t.DialContext = p.cfg.Guard.DialContext
	}
	return t
}
