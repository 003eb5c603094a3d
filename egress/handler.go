package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/polydev/polydev/netguard"
)

// refusal is one refused request: the status, the reason told to the guest and logged, and the
// metric's label.
type refusal struct {
	status int
	reason string
	label  string
}

// ServeHTTP handles one proxy request from the guest: CONNECT host:port, or an absolute-form
// plain-HTTP request. The order of checks is the order of cost: the request's shape, a bound and
// live session, the allow-list, and only then any name resolution or connection.
func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var hostport, def string
	switch {
	case r.Method == http.MethodConnect:
		hostport = r.Host
	case r.URL.IsAbs() && r.URL.Scheme == "http" && r.URL.Host != "":
		hostport, def = r.URL.Host, "80"
	default:
		g.refuse(w, nil, "", 0, refusal{http.StatusBadRequest, "not a proxy request (CONNECT host:port or an absolute http:// URL)", "bad_request"})
		return
	}
	host, port, err := splitTarget(hostport, def)
	if err != nil {
		g.refuse(w, nil, "", 0, refusal{http.StatusBadRequest, "bad target: " + err.Error(), "bad_request"})
		return
	}
	s := g.sess.Load()
	if s == nil {
		g.refuse(w, nil, host, port, refusal{http.StatusForbidden, "no login session uses this VM", "no_session"})
		return
	}
	if why := s.refusalReason(); why != "" {
		g.refuse(w, s, host, port, refusal{http.StatusForbidden, why, "limit"})
		return
	}
	if !s.pol.allows(host, port) {
		g.refuse(w, s, host, port, refusal{http.StatusForbidden, "host " + net.JoinHostPort(host, strconv.Itoa(int(port))) + " is not on this session's allow-list", "not_allowed"})
		return
	}
	s.requests.Add(1)
	g.p.metrics.requests.Inc()
	g.p.log.Info("egress allowed", "session", s.pol.Session, "vm", g.vmID, "method", r.Method, "host", host, "port", port)
	if r.Method == http.MethodConnect {
		g.connect(w, r, s, host, port)
		return
	}
	g.forward(w, r, s, host, port)
}

// refuse answers 4xx/5xx with X-Polydev-Egress: refused and logs the refusal. The body is one line
// of text: Chromium shows its own error page for a failed CONNECT, but curl and the CLIs print it.
func (g *gate) refuse(w http.ResponseWriter, s *Session, host string, port uint16, why refusal) {
	session := ""
	if s != nil {
		s.refused.Add(1)
		session = s.pol.Session
	}
	g.p.metrics.refusals.WithLabelValues(why.label).Inc()
	g.p.log.Info("egress refused", "session", session, "vm", g.vmID, "host", host, "port", port, "reason", why.reason)
	w.Header().Set("X-Polydev-Egress", "refused")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Connection", "close")
	w.WriteHeader(why.status)
	fmt.Fprintf(w, "polydev egress: %s\n", why.reason)
}

// dialRefusal turns a failed connection to the destination into what the guest is told. The
// cause is logged apart, with any upstream credentials scrubbed.
func (g *gate) dialRefusal(s *Session, host string, port uint16, err error) refusal {
	if be := (*netguard.BlockedError)(nil); errors.As(err, &be) {
		return refusal{http.StatusForbidden, be.ClientMessage(), "destination"}
	}
	g.p.metrics.dialErrors.Inc()
	g.p.log.Warn("egress dial failed", "session", s.pol.Session, "vm", g.vmID, "host", host, "port", port,
		"err", g.p.cfg.Upstream.scrub(err.Error()))
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return refusal{http.StatusGatewayTimeout, "timed out connecting to " + host, "dial"}
	}
	if ue := (*upstreamError)(nil); errors.As(err, &ue) {
		return refusal{http.StatusBadGateway, ue.Error(), "upstream"}
	}
	return refusal{http.StatusBadGateway, "cannot connect to " + host, "dial"}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// connect dials the destination and splices the guest's connection to it.
func (g *gate) connect(w http.ResponseWriter, r *http.Request, s *Session, host string, port uint16) {
	ctx, cancel := context.WithTimeout(s.ctx, g.p.cfg.DialTimeout)
	dst, err := g.p.dial(ctx, host, port)
	cancel()
	if err != nil {
		g.refuse(w, s, host, port, g.dialRefusal(s, host, port, err))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok { // HTTP/2 is never negotiated on these listeners, so this is a programming error
		_ = dst.Close()
		g.refuse(w, s, host, port, refusal{http.StatusInternalServerError, "cannot tunnel on this connection", "bad_request"})
		return
	}
	src, brw, err := hj.Hijack()
	if err != nil {
		_ = dst.Close()
		return
	}
	start := time.Now()
	if _, err := io.WriteString(src, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		_ = src.Close()
		_ = dst.Close()
		return
	}
	// Bytes the guest sent right after its CONNECT (a TLS ClientHello it did not wait to send)
	// may already sit in the server's buffer.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if _, err := dst.Write(b); err != nil {
			_ = src.Close()
			_ = dst.Close()
			return
		}
	}
	up, down := splice(s.ctx, src, dst)
	g.p.log.Debug("egress tunnel closed", "session", s.pol.Session, "vm", g.vmID, "host", host, "port", port,
		"bytes_up", up, "bytes_down", down, "seconds", time.Since(start).Seconds())
}

// splice copies both ways until both sides are done, passing half-closes on, and closes both
// connections when ctx ends.
func splice(ctx context.Context, a, b net.Conn) (aToB, bToA int64) {
	stop := context.AfterFunc(ctx, func() { _ = a.Close(); _ = b.Close() })
	defer stop()
	done := make(chan int64, 1)
	go func() { done <- copyHalf(b, a) }()
	bToA = copyHalf(a, b)
	aToB = <-done
	_ = a.Close()
	_ = b.Close()
	return aToB, bToA
}

// copyHalf copies src to dst, then half-closes dst (or closes both when a side failed, so the
// other direction does not wait for ever).
func copyHalf(dst, src net.Conn) int64 {
	n, err := io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok && err == nil {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Close()
		_ = src.Close()
	}
	return n
}

// hopHeaders are the hop-by-hop headers a proxy must not forward (RFC 9110 §7.6.1), and the
// proxy's own.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authorization",
	"Proxy-Authenticate", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for name := range strings.SplitSeq(f, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// forward sends a plain-HTTP request to its destination and relays the answer. Redirects are
// relayed, not followed: the guest's next request goes through the allow-list again.
func (g *gate) forward(w http.ResponseWriter, r *http.Request, s *Session, host string, port uint16) {
	if g.p.cfg.Upstream != nil {
		ctx, cancel := context.WithTimeout(s.ctx, g.p.cfg.DialTimeout)
		err := g.p.cfg.Guard.CheckDestination(ctx, host, port)
		cancel()
		if err != nil {
			g.refuse(w, s, host, port, g.dialRefusal(s, host, port, err))
			return
		}
	}
	out := r.Clone(s.ctx)
	out.RequestURI = ""
	out.Host = ""
	out.URL.Host = net.JoinHostPort(host, strconv.Itoa(int(port)))
	removeHop(out.Header)
	if r.ContentLength == 0 {
		out.Body = nil
	}
	resp, err := g.p.plain.RoundTrip(out)
	if err != nil {
		g.refuse(w, s, host, port, g.dialRefusal(s, host, port, err))
		return
	}
	defer resp.Body.Close()
	removeHop(resp.Header)
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
