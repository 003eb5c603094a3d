package netguard

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Transport returns a clone of base (http.DefaultTransport's settings when
// base is nil) whose every connection to an upstream goes through
// [Policy.DialContext], so the address actually dialed is checked.
//
// HTTP/2 is negotiated when the upstream offers it (ForceAttemptHTTP2: a
// custom dialer would otherwise turn it off).
//
// An egress proxy is honoured: the environment's HTTPS_PROXY, HTTP_PROXY and
// NO_PROXY (Go's rules: never for localhost and loopback addresses), or the
// function set with [Policy.WithProxy]. Through a proxy the dialer only ever
// sees the proxy's address, which the operator chose and which is dialed
// without the guard; the request's destination is checked instead, before
// the proxy is asked to connect: every address its name resolves to must be
// permitted. The proxy resolves the name again, so a name that changes its
// answer in between (DNS rebinding) is caught only by a proxy that enforces
// the same rules itself (docs/SECURITY.md).
//
// Custom dial functions of base are dropped; TLS happens on top of the
// guarded connection.
func (p *Policy) Transport(base *http.Transport) *http.Transport {
	var t *http.Transport
	switch dt, ok := http.DefaultTransport.(*http.Transport); {
	case base != nil:
		t = base.Clone()
	case ok:
		t = dt.Clone()
	default: // someone replaced DefaultTransport; do not inherit it
		t = &http.Transport{TLSHandshakeTimeout: 10 * time.Second}
	}
	g := &guarded{p: p, choose: p.proxyFunc()}
	t.Proxy = g.proxy
	t.DialContext = g.dial
	t.ForceAttemptHTTP2 = true
	// Deprecated and TLS dial hooks are cleared: each is a way around the guard.
	t.Dial = nil
	t.DialTLSContext = nil
	t.DialTLS = nil
	return t
}

func (p *Policy) proxyFunc() func(*http.Request) (*url.URL, error) {
	if p != nil && p.proxy != nil {
		return p.proxy
	}
	return http.ProxyFromEnvironment
}

// guarded is one transport's dial and proxy decisions.
type guarded struct {
	p      *Policy
	choose func(*http.Request) (*url.URL, error)
	// proxies holds the host:port of every proxy chosen so far (lower case):
	// the dialer lets those through unchecked. The operator names them, so
	// the set stays small.
	proxies sync.Map
}

// proxy is http.Transport.Proxy: the chosen proxy, after checking the
// request's destination as the dialer would have.
func (g *guarded) proxy(req *http.Request) (*url.URL, error) {
	u, err := g.choose(req)
	if err != nil || u == nil {
		return nil, err
	}
	private, err := g.p.checkDestination(req.Context(), req.URL)
	if err != nil {
		return nil, err
	}
	if d := destinationFrom(req.Context()); d != nil {
		d.proxied.Store(true)
		if private {
			d.private.Store(true)
		}
	}
	g.proxies.Store(proxyAddr(u), true)
	return u, nil
}

func (g *guarded) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if _, ok := g.proxies.Load(strings.ToLower(address)); ok {
		d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		return d.DialContext(ctx, network, address)
	}
	return g.p.DialContext(ctx, network, address)
}

// proxyAddr is the host:port net/http dials for proxy u.
func proxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return strings.ToLower(net.JoinHostPort(u.Hostname(), port))
}

// checkDestination judges every address u's host stands for, as the dialer
// judges the one it dials, and reports whether any of them is non-public
// (allowed by the allow list).
func (p *Policy) checkDestination(ctx context.Context, u *url.URL) (private bool, err error) {
	t, err := parseHost(u.Hostname(), strings.HasPrefix(u.Host, "["))
	if err != nil {
		return false, &BlockedError{Reason: err.Error()}
	}
	addrs, err := p.dialTimeAddrs(ctx, t)
	if err != nil {
		return false, err
	}
	for _, a := range addrs {
		if e := p.check(t.canonical(), a); e != nil {
			return false, e
		}
		if e := p.checkSelf(t.canonical(), a, portOf(u)); e != nil {
			return false, e
		}
		private = private || !isPublic(a)
	}
	return private, nil
}

// portOf is the port net/http dials for u.
func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "http" {
		return "80"
	}
	return "443"
}

// Client returns the http.Client for upstream API calls: [Policy.Transport]
// over base and [CheckRedirect]. It sets no overall timeout because LLM
// responses stream for minutes; base's ResponseHeaderTimeout bounds the wait
// for an answer's first byte, and contexts bound the rest.
func (p *Policy) Client(base *http.Transport) *http.Client {
	return &http.Client{Transport: p.Transport(base), CheckRedirect: CheckRedirect}
}

// CheckRedirect is an http.Client.CheckRedirect that refuses every redirect.
// Upstream LLM APIs answer directly; following a redirect would resend
// provider keys in custom headers (x-api-key, api-key), which net/http only
// strips for Authorization and Cookie, to a host the upstream chose. The
// *BlockedError names the redirect target by scheme and host only; note that
// http.Client wraps it in a *url.Error that quotes the full target URL, so
// log the BlockedError (errors.As), not the wrapper.
func CheckRedirect(req *http.Request, _ []*http.Request) error {
	return &BlockedError{
		Reason: "upstream redirected to " + redactURL(req.URL) + "; redirects are not followed for API calls, configure the final URL instead",
	}
}
