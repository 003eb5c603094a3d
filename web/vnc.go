package web

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// The noVNC WebSocket route carries RFB between a user's browser and the websockify server inside
// their own VM, and nothing else: the noVNC page and its scripts come from the host
// (vncstatic.go), never from the guest, which is not trusted. A WebSocket needs the user's
// credentials, the Origin check when they are a cookie, and a single-use viewer ticket
// (vncticket.go). Only allow-listed headers cross in either direction, so the user's Polydev
// credentials and the ticket never reach the guest and the guest can set no cookie or policy on our
// origin; a guest answer other than the WebSocket's 101 never reaches the browser.

// novncRequestHeaders are the only request headers sent to the guest (Connection and Upgrade are
// re-added by ReverseProxy for the upgrade).
var novncRequestHeaders = []string{
	"Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol",
	"Sec-Websocket-Extensions",
}

// novncResponseHeaders are the only guest response headers passed to the browser.
var novncResponseHeaders = []string{
	"Connection", "Upgrade", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions",
}

// vncState is the Server's viewer state; the zero value is ready.
type vncState struct {
	tickets vncTickets
	// touchEvery is how often an open WebSocket records activity on its VM so that the idle reaper
	// leaves a watched VM alone; 0 means a minute.
	touchEvery time.Duration
	// newTicker makes the ticker behind touchEvery; nil means time.NewTicker. Tests drive their own.
	newTicker func(time.Duration) (<-chan time.Time, func())
	// idle closes a viewer WebSocket that carried no byte either way for this long (idleconn.go);
	// 0 means defaultViewerIdle.
	idle time.Duration
}

func novncWebSocketPath(vmID string) string { return "/api/vms/" + vmID + "/novnc/websockify" }

// novncWebSocket answers GET /api/vms/{id}/novnc/websockify, a WebSocket upgrade with
// ?ticket=, by proxying it to websockify in the VM (guest port polydev.VMPortNoVNC).
func (s *Server) novncWebSocket(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.vms == nil {
		return polydev.ErrVMOff
	}
	id, err := vmID(r)
	if err != nil {
		return err
	}
	return s.proxyNoVNC(w, r, u, id, vncTicketRoute(id))
}

func vncTicketRoute(vmID string) string { return "/api/vms/" + vmID + "/vnc-ticket" }

// proxyNoVNC checks a viewer WebSocket to u's VM vmID (the upgrade, the Origin for a cookie, the
// VM running, the ticket, which ticketRoute renews) and proxies it to the guest's websockify. Both
// viewer routes, a VM's and a login session's, come here.
func (s *Server) proxyNoVNC(w http.ResponseWriter, r *http.Request, u *polydev.User, vmID, ticketRoute string) error {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !headerHasToken(r.Header, "Connection", "upgrade") {
		return polydev.Errorf(polydev.EINVALID, "this endpoint takes only a WebSocket upgrade (noVNC's connection); "+
			"open the url from POST %s in a browser", ticketRoute)
	}
	if cookieAuthenticated(r) {
		if err := s.checkSameOrigin(r); err != nil {
			return err
		}
	}
	v, err := s.store.VMByID(r.Context(), u.ID, vmID)
	if err != nil {
		return err
	}
	if v.State != polydev.VMRunning {
		return errVMNotRunning(v)
	}
	if err := s.vnc.tickets.redeem(s.now(), r.URL.Query().Get("ticket"), u.ID, v.ID, ticketRoute); err != nil {
		return err
	}

	p := &novncProxy{s: s, u: u, id: v.ID, w: w, open: make(chan struct{})}
	rp := &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.transport(),
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.keepVMAlive(r.Context(), v.ID, p.open, done) })
	rp.ServeHTTP(w, r) // returns when either side closes the WebSocket
	close(done)
	wg.Wait()
	return nil
}

// keepVMAlive records activity on VM id when the WebSocket opens and then every touchEvery until
// done, so the idle reaper never stops a VM someone is watching.
func (s *Server) keepVMAlive(ctx context.Context, id string, open, done <-chan struct{}) {
	select {
	case <-open:
	case <-done:
		return
	}
	newTicker := s.vnc.newTicker
	if newTicker == nil {
		newTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	tick, stop := newTicker(cmp.Or(s.vnc.touchEvery, time.Minute))
	defer stop()
	for {
		if err := s.store.TouchVM(ctx, id, s.now()); err != nil {
			s.log.Warn("VM activity touch failed", "request_id", requestIDFrom(ctx), "vm_id", id, "err", err)
		}
		select {
		case <-tick:
		case <-done:
			return
		}
	}
}

// headerHasToken reports whether a comma-separated header (Connection) lists token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// cookieAuthenticated reports whether authenticate used the session cookie: it prefers the
// Authorization and X-Api-Key headers, which browsers never attach on their own.
func cookieAuthenticated(r *http.Request) bool {
	return r.Header.Get("Authorization") == "" && r.Header.Get("X-Api-Key") == ""
}

var errCrossOriginWebSocket = polydev.Errorf(polydev.EFORBIDDEN, "cross-origin WebSocket refused: the Origin header must be this site")

// checkSameOrigin defends the cookie-authenticated WebSocket against cross-site hijacking: browsers
// send cookies on a cross-site WebSocket handshake and CrossOriginProtection does not look at GETs,
// so the Origin must be our own host or a configured trusted origin.
func (s *Server) checkSameOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return errCrossOriginWebSocket
	}
	for _, o := range s.cfg.TrustedOrigins {
		if strings.EqualFold(origin, strings.TrimSuffix(o, "/")) {
			return nil
		}
	}
	o, err := url.Parse(origin)
	if err != nil || (o.Scheme != "http" && o.Scheme != "https") || o.Host == "" || !strings.EqualFold(o.Host, r.Host) {
		return errCrossOriginWebSocket
	}
	return nil
}

// novncProxy is one WebSocket's proxy to one VM: its transport dials the VM through the
// controller, once, and keeps no connection for reuse, so a connection can never serve another
// user or VM.
type novncProxy struct {
	s    *Server
	u    *polydev.User
	id   string
	w    http.ResponseWriter
	open chan struct{} // closed when the guest accepted the WebSocket

	mu      sync.Mutex
	dialErr error
}

func (p *novncProxy) rewrite(pr *httputil.ProxyRequest) {
	out := pr.Out
	out.URL.Scheme, out.URL.Host = "http", "websockify.guest"               // never resolved: dial ignores it
	out.URL.Path, out.URL.RawPath, out.URL.RawQuery = "/websockify", "", "" // the ticket stays here
	out.Host = ""
	kept := make(http.Header, len(novncRequestHeaders))
	for _, k := range novncRequestHeaders {
		if vs := out.Header.Values(k); len(vs) > 0 {
			kept[textproto.CanonicalMIMEHeaderKey(k)] = vs
		}
	}
	out.Header = kept
	out.Body, out.ContentLength = nil, 0 // GET only: nothing of the client's body goes to the guest
}

func (p *novncProxy) transport() http.RoundTripper {
	return noInformational{&http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := p.s.vms.Dial(ctx, p.u, p.id, polydev.VMPortNoVNC)
			if err != nil {
				p.mu.Lock()
				p.dialErr = err
				p.mu.Unlock()
				return nil, err
			}
			return newIdleConn(c, cmp.Or(p.s.vnc.idle, defaultViewerIdle)), nil
		},
		DisableKeepAlives:  true,
		DisableCompression: true,
		// A user-mode host forward accepts at once even when nothing listens in the guest; a guest
		// that then never answers must not hold the request forever.
		ResponseHeaderTimeout: 30 * time.Second,
	}}
}

var errGuestNotWebSocket = errors.New("the guest did not accept the WebSocket")

// modifyResponse lets through only the guest's 101, with allow-listed headers only: any other
// answer (a page, a redirect) is the guest's content and must not appear on our origin.
func (p *novncProxy) modifyResponse(res *http.Response) error {
	if res.StatusCode != http.StatusSwitchingProtocols {
		return errGuestNotWebSocket
	}
	kept := make(http.Header, len(novncResponseHeaders))
	for _, k := range novncResponseHeaders {
		if vs := res.Header.Values(k); len(vs) > 0 {
			kept[textproto.CanonicalMIMEHeaderKey(k)] = vs
		}
	}
	res.Header = kept
	// ReverseProxy writes the 101 to the hijacked connection: tell the access log and metrics.
	if rec, ok := p.w.(*recorder); ok {
		rec.status, rec.wroteHeader = res.StatusCode, true
	}
	close(p.open)
	return nil
}

// errorHandler renders the controller's answer when the dial failed (VM stopped meanwhile, gone),
// and a clear 503 when the guest did not answer or did not accept the WebSocket.
func (p *novncProxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	p.mu.Lock()
	dialErr := p.dialErr
	p.mu.Unlock()
	switch {
	case dialErr != nil:
		if _, ok := errors.AsType[*polydev.Error](dialErr); ok {
			err = dialErr
		} else {
			err = polydev.Wrap(polydev.EUNAVAILABLE, dialErr, "the VM's display is not reachable yet; retry in a few seconds")
		}
	case errors.Is(err, errGuestNotWebSocket):
		err = polydev.Wrap(polydev.EUNAVAILABLE, err, "the VM's display did not accept the WebSocket; retry in a few seconds")
	default:
		err = polydev.Wrap(polydev.EUNAVAILABLE, err, "the VM's display did not answer; retry in a few seconds")
	}
	p.s.renderError(w, r, err)
}

// noInformational drops the headers of any 1xx (103 Early Hints, say) from the guest before
// ReverseProxy copies them to the browser, since that copy bypasses modifyResponse. Trace hooks
// compose newest first and share the header map, so clearing it here is enough.
type noInformational struct{ rt http.RoundTripper }

func (n noInformational) RoundTrip(req *http.Request) (*http.Response, error) {
	trace := &httptrace.ClientTrace{Got1xxResponse: func(_ int, h textproto.MIMEHeader) error {
		clear(h)
		return nil
	}}
	return n.rt.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
}
