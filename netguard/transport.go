package netguard

import (
	"net/http"

	"github.com/polydev/polydev/internal/h1"
)

// Transport returns a clone of base (http.DefaultTransport's settings when
// base is nil) whose every connection goes through [Policy.DialContext].
//
// Proxies are switched off, environment variables included: through a proxy
// the dialer would only ever see the proxy's address, and the proxy would
// reach the forbidden destination on our behalf. Any custom dial functions
// of base are dropped for the same reason; TLS still happens on top of the
// guarded connection.
func (p *Policy) Transport(base *http.Transport) *http.Transport {
	var t *http.Transport
	switch dt, ok := http.DefaultTransport.(*http.Transport); {
	case base != nil:
		t = base.Clone()
	case ok:
		t = dt.Clone()
	default: // someone replaced DefaultTransport; do not inherit it
		t = &http.Transport{ForceAttemptHTTP2: true}
	}
	t.Proxy = nil
	t.OnProxyConnectResponse = nil
	t.GetProxyConnectHeader = nil
	t.ProxyConnectHeader = nil
	t.DialContext = p.DialContext
	// Deprecated hooks are cleared too: each is a way around the guard.
	t.Dial = nil
	t.DialTLSContext = nil
	t.DialTLS = nil
	return t
}

// Client returns an http.Client for upstream API calls: an [h1.Transport]
// (HTTP/1.1, each exchange in the caller's goroutine) whose every connection
// goes through [Policy.DialContext], and [CheckRedirect]. From base (nil: the
// defaults) it takes the TLS configuration, the idle pool size and timeout
// and the response header timeout; proxies are never used (see Transport).
// It sets no overall timeout because LLM responses stream for minutes;
// bound requests with their context.
func (p *Policy) Client(base *http.Transport) *http.Client {
	t := &h1.Transport{Dial: p.DialContext}
	if base != nil {
		t.TLSConfig = base.TLSClientConfig
		t.MaxIdlePerHost = base.MaxIdleConnsPerHost
		t.IdleTimeout = base.IdleConnTimeout
		t.ResponseHeaderTimeout = base.ResponseHeaderTimeout
		if base.MaxResponseHeaderBytes > 0 {
			t.MaxResponseHeaderBytes = base.MaxResponseHeaderBytes
		}
	}
	return &http.Client{Transport: t, CheckRedirect: CheckRedirect}
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
