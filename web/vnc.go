package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/polydev/polydev"
)

// The noVNC route proxies a user's browser to the websockify server inside their own VM: plain GETs
// for the noVNC page and its assets, and the WebSocket that carries RFB to the guest's VNC server.
// The guest is not trusted: only allow-listed headers cross in either direction, so the user's
// Polydev credentials never reach the guest and the guest can set no cookie or policy on our origin.

// novncRequestHeaders are the only request headers sent to the guest (Connection and Upgrade are
// re-added by ReverseProxy for a WebSocket upgrade).
var novncRequestHeaders = []string{
	"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "If-Modified-Since", "If-None-Match",
	"If-Range", "Range", "User-Agent",
	"Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol",
	"Sec-Websocket-Extensions",
}

// novncResponseHeaders are the only guest response headers passed to the browser; Location is
// handled on its own.
var novncResponseHeaders = []string{
	"Content-Type", "Content-Length", "Content-Encoding", "Content-Range", "Accept-Ranges", "Last-Modified",
	"Etag", "Expires", "Date",
	"Connection", "Upgrade", "Sec-Websocket-Accept", "Sec-Websocket-Protocol", "Sec-Websocket-Extensions",
}

// novnc answers GET /api/vms/{id}/novnc/{path...}: the owner's browser to websockify (guest port
// polydev.VMPortNoVNC). An empty path redirects to the noVNC page set up to connect back through
// this route.
func (s *Server) novnc(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.vms == nil {
		return polydev.ErrVMOff
	}
	id, err := vmID(r)
	if err != nil {
		return err
	}
	upgrade := r.Header.Get("Upgrade") != ""
	if upgrade && !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return polydev.Errorf(polydev.EINVALID, "only WebSocket upgrades are proxied to the VM")
	}
	if upgrade && cookieAuthenticated(r) {
		if err := s.checkSameOrigin(r); err != nil {
			return err
		}
	}
	v, err := s.store.VMByID(r.Context(), u.ID, id)
	if err != nil {
		return err
	}
	if v.State != polydev.VMRunning {
		return polydev.Errorf(polydev.ECONFLICT, "VM is %s, not running: start it with POST /api/vms/%s/start", v.State, v.ID)
	}
	prefix := "/api/vms/" + v.ID + "/novnc/"
	if r.PathValue("path") == "" && !upgrade {
		q := url.Values{"autoconnect": {"true"}, "resize": {"scale"}, "path": {strings.TrimPrefix(prefix, "/") + "websockify"}}
		http.Redirect(w, r, prefix+"vnc.html?"+q.Encode(), http.StatusFound)
		return nil
	}

	// Framing by our own pages only (the middleware's default is DENY).
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	w.Header().Set("Content-Security-Policy", "frame-ancestors 'self'")
	p := &novncProxy{s: s, u: u, id: v.ID, prefix: prefix, w: w}
	rp := &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.transport(),
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
	}
	rp.ServeHTTP(w, r)
	return nil
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

// novncProxy is one request's proxy to one VM: its transport dials the VM through the controller,
// once, and keeps no connection for reuse, so a connection can never serve another user or VM.
type novncProxy struct {
	s      *Server
	u      *polydev.User
	id     string
	prefix string
	w      http.ResponseWriter

	mu      sync.Mutex
	dialErr error
}

func (p *novncProxy) rewrite(pr *httputil.ProxyRequest) {
	out := pr.Out
	out.URL.Scheme, out.URL.Host = "http", "websockify.guest" // never resolved: dial ignores it
	out.URL.Path, out.URL.RawPath = "/"+pr.In.PathValue("path"), ""
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
			}
			return c, err
		},
		DisableKeepAlives:  true,
		DisableCompression: true, // pass the guest's encoding through untouched
		// A user-mode host forward accepts at once even when nothing listens in the guest; a guest
		// that then never answers must not hold the request forever.
		ResponseHeaderTimeout: 30 * time.Second,
	}}
}

// modifyResponse keeps only allow-listed guest headers and keeps redirects under our prefix.
func (p *novncProxy) modifyResponse(res *http.Response) error {
	kept := make(http.Header, len(novncResponseHeaders)+1)
	for _, k := range novncResponseHeaders {
		if vs := res.Header.Values(k); len(vs) > 0 {
			kept[textproto.CanonicalMIMEHeaderKey(k)] = vs
		}
	}
	if loc, ok := p.location(res.Header.Get("Location")); ok {
		kept.Set("Location", loc)
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		// ReverseProxy writes the 101 to the hijacked connection: tell the access log and metrics.
		if rec, ok := p.w.(*recorder); ok {
			rec.status, rec.wroteHeader = res.StatusCode, true
		}
	} else {
		// The page is this user's only: no shared cache may keep it.
		kept.Set("Cache-Control", "private, no-cache")
	}
	res.Header = kept
	return nil
}

// location maps the guest's redirect to a path of its own (websockify redirects a directory
// without its slash that way) under this route; any other redirect is dropped.
func (p *novncProxy) location(loc string) (string, bool) {
	u, err := url.Parse(loc)
	if loc == "" || err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(loc, "//") || strings.Contains(loc, "\\") {
		return "", false
	}
	clean := path.Join(p.prefix, u.Path)
	if !strings.HasPrefix(clean+"/", p.prefix) {
		return "", false // climbed out of the prefix
	}
	if strings.HasSuffix(u.Path, "/") && !strings.HasSuffix(clean, "/") {
		clean += "/"
	}
	u.Path, u.RawPath = clean, ""
	return u.String(), true
}

// errorHandler renders the controller's answer when the dial failed (VM stopped meanwhile, gone),
// and a clear 503 when the guest did not answer.
func (p *novncProxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	p.mu.Lock()
	dialErr := p.dialErr
	p.mu.Unlock()
	if dialErr != nil {
		if _, ok := errors.AsType[*polydev.Error](dialErr); ok {
			err = dialErr
		} else {
			err = polydev.Wrap(polydev.EUNAVAILABLE, dialErr, "the VM's display is not reachable yet; retry in a few seconds")
		}
	} else {
		err = polydev.Wrap(polydev.EUNAVAILABLE, err, "the VM's display did not answer; retry in a few seconds")
	}
	w.Header().Del("X-Frame-Options")
	w.Header().Del("Content-Security-Policy")
	w.Header().Set("X-Frame-Options", "DENY")
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
