package web

import (
	"context"
	"errors"
	"image"
	"image/color"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/rfb"
	"github.com/polydev/polydev/internal/rfb/rfbtest"
)

// fakeWebsockify plays the guest's websockify: noVNC files over HTTP, and on /websockify a
// WebSocket that greets like a VNC server and then echoes. It records what reached it and answers
// with headers a hostile guest might send, which must not reach the browser.
type fakeWebsockify struct {
	ts *httptest.Server

	mu   sync.Mutex
	seen []*http.Request
}

func newFakeWebsockify(t *testing.T) *fakeWebsockify {
	f := &fakeWebsockify{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /vnc.html", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Set-Cookie", SessionCookie+"=guest-chosen; Path=/; Secure")
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("X-Frame-Options", "ALLOWALL")
		h.Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write([]byte("<title>noVNC</title>"))
	})
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/app/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://evil.example/", http.StatusFound)
	})
	mux.HandleFunc("GET /climb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/../../../account/me")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("GET /hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</evil.js>; rel=preload; as=script")
		w.Header().Set("Set-Cookie", SessionCookie+"=guest-chosen; Path=/; Secure")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Del("Set-Cookie")
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /websockify", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"binary"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if err := c.Write(ctx, websocket.MessageBinary, []byte("RFB 003.008\n")); err != nil {
			return
		}
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, append([]byte("echo:"), b...)); err != nil {
				return
			}
		}
	})
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.Clone(context.Background()))
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.ts.Close)
	return f
}

// last returns the last request the guest saw.
func (f *fakeWebsockify) last(t *testing.T) *http.Request {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		t.Fatal("no request reached the guest")
	}
	return f.seen[len(f.seen)-1]
}

func (f *fakeWebsockify) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

// vncController is a VMController whose Dial reaches addr for the owner's running VM, with the
// controller's documented answers otherwise; the other methods are not used here.
type vncController struct {
	store polydev.Store
	addr  string
	dials atomic.Int32
}

var errNotUsed = errors.New("not used by the noVNC tests")

func (c *vncController) Create(context.Context, *polydev.User, polydev.VMType) (*polydev.VM, error) {
	return nil, errNotUsed
}
func (c *vncController) Start(context.Context, *polydev.User, string) (*polydev.VM, error) {
	return nil, errNotUsed
}
func (c *vncController) Stop(context.Context, *polydev.User, string) (*polydev.VM, error) {
	return nil, errNotUsed
}
func (c *vncController) Delete(context.Context, *polydev.User, string) error { return errNotUsed }
func (c *vncController) PoolStats(context.Context) (polydev.VMPoolStats, error) {
	return polydev.VMPoolStats{}, errNotUsed
}

func (c *vncController) Dial(ctx context.Context, u *polydev.User, id string, port uint16) (net.Conn, error) {
	c.dials.Add(1)
	v, err := c.store.VMByID(ctx, u.ID, id)
	if err != nil {
		return nil, err
	}
	if port != polydev.VMPortNoVNC && port != polydev.VMPortAgent {
		return nil, polydev.Errorf(polydev.EINVALID, "port %d is not reachable", port)
	}
	if port != polydev.VMPortNoVNC {
		return nil, errors.New("the noVNC route dialled the agent port")
	}
	if v.State != polydev.VMRunning {
		return nil, polydev.Errorf(polydev.ECONFLICT, "VM is not running")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", c.addr)
}

type vncEnv struct {
	*env
	guest       *fakeWebsockify
	ctl         *vncController
	cookie      string // the owner's session
	token       string // the owner's API token
	otherCookie string // another user's session
	vm          *polydev.VM
}

// newVNCEnv starts the API with a controller whose only VM, running, belongs to the cookie's user.
// The proxy does not touch SQL beyond VMByID, so one engine is enough.
func newVNCEnv(t *testing.T) *vncEnv {
	t.Helper()
	e := newEnv(t, "sqlite", Config{})
	guest := newFakeWebsockify(t)
	ctl := &vncController{store: e.store, addr: guest.ts.Listener.Addr().String()}
	e.srv.vms = ctl
	cookie := e.signup("owner@example.com", pw)
	token, _ := e.token(cookie)
	other := e.signup("other@example.com", pw)
	u, err := e.store.UserByEmail(t.Context(), "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return &vncEnv{env: e, guest: guest, ctl: ctl, cookie: cookie, token: token, otherCookie: other, vm: e.insertVM(u.ID, polydev.VMBrowser)}
}

func (v *vncEnv) path(rest string) string { return "/api/vms/" + v.vm.ID + "/novnc/" + rest }

func (v *vncEnv) wsURL(rest string) string {
	return "ws" + strings.TrimPrefix(v.ts.URL, "http") + v.path(rest)
}

// upgradeHeaders make a plain request a WebSocket handshake, for answers that must come before any
// upgrade happens.
var upgradeHeaders = []string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13",
	"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}

func TestNoVNCAsset(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	for _, auth := range []struct{ name, header, value string }{
		{"cookie", "Cookie", v.cookie},
		{"token", "Authorization", "Bearer " + v.token},
		{"x-api-key", "X-Api-Key", v.token},
	} {
		t.Run(auth.name, func(t *testing.T) {
			r := v.want(v.do("GET", v.path("vnc.html?autoconnect=true&path=x"), nil, auth.header, auth.value,
				"Cookie", v.cookie+"; other=1", "X-Forwarded-For", "203.0.113.9"), http.StatusOK)
			if string(r.body) != "<title>noVNC</title>" || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("asset = %q %v", r.body, r.header)
			}
			for _, h := range []string{"Set-Cookie", "Strict-Transport-Security", "Access-Control-Allow-Origin"} {
				if got := r.header.Values(h); len(got) > 0 {
					t.Errorf("guest header %s reached the browser: %q", h, got)
				}
			}
			if got := r.header.Values("X-Frame-Options"); len(got) != 1 || got[0] != "SAMEORIGIN" {
				t.Errorf("X-Frame-Options = %q", got)
			}
			if got := r.header.Get("Cache-Control"); got != "private, no-cache" {
				t.Errorf("Cache-Control = %q", got)
			}
			in := v.guest.last(t)
			if in.URL.Path != "/vnc.html" || in.URL.RawQuery != "autoconnect=true&path=x" {
				t.Errorf("guest got %s", in.URL)
			}
			for _, h := range []string{"Cookie", "Authorization", "X-Api-Key", "X-Forwarded-For", "Forwarded", "X-Request-Id"} {
				if got := in.Header.Values(h); len(got) > 0 {
					t.Errorf("%s forwarded to the guest: %q", h, got)
				}
			}
			if strings.Contains(in.Host, "127.0.0.1") {
				t.Errorf("guest saw our Host %q", in.Host)
			}
		})
	}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// Headers of a 1xx from the guest are dropped too: ReverseProxy copies those outside ModifyResponse.
func TestNoVNCInformational(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	var mu sync.Mutex
	var got []textproto.MIMEHeader
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, h)
		return nil
	}})
	req, err := http.NewRequestWithContext(ctx, "GET", v.ts.URL+v.path("hints"), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", v.cookie)
	res, err := v.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if res.StatusCode != http.StatusOK || len(got) != 1 {
		t.Fatalf("status %d after %d informational responses", res.StatusCode, len(got))
	}
	for _, h := range got {
		if len(h.Values("Link")) > 0 || len(h.Values("Set-Cookie")) > 0 {
			t.Errorf("guest 1xx headers reached the browser: %v", h)
		}
	}
}

func TestNoVNCRedirects(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	for _, tc := range []struct{ path, want string }{
		{"", v.path("vnc.html?autoconnect=true&path=api%2Fvms%2F" + v.vm.ID + "%2Fnovnc%2Fwebsockify&resize=scale")},
		{"app", v.path("app/")}, // the guest's absolute redirect stays under our prefix
		{"elsewhere", ""},       // and one to another site is dropped
		{"climb", ""},           // as is one climbing out of the prefix
		{"app?x=1", v.path("app/")},
	} {
		req, err := http.NewRequestWithContext(t.Context(), "GET", v.ts.URL+v.path(tc.path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Cookie", v.cookie)
		res, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusMovedPermanently {
			t.Fatalf("%q: status %d", tc.path, res.StatusCode)
		}
		if got := res.Header.Get("Location"); got != tc.want {
			t.Errorf("%q: Location = %q, want %q", tc.path, got, tc.want)
		}
	}
}

// dialWS opens the proxied WebSocket with the given headers and checks the VNC greeting and an
// echo, so bytes are shown to flow both ways.
func (v *vncEnv) dialWS(t *testing.T, header http.Header) {
	t.Helper()
	c, res, err := websocket.Dial(t.Context(), v.wsURL("websockify"), &websocket.DialOptions{HTTPHeader: header, Subprotocols: []string{"binary"}})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial: status %d: %v", status, err)
	}
	defer c.CloseNow()
	if c.Subprotocol() != "binary" {
		t.Errorf("subprotocol = %q", c.Subprotocol())
	}
	typ, b, err := c.Read(t.Context())
	if err != nil || typ != websocket.MessageBinary || string(b) != "RFB 003.008\n" {
		t.Fatalf("greeting = %v %q %v", typ, b, err)
	}
	if err := c.Write(t.Context(), websocket.MessageBinary, []byte{0, 1, 2, 0xff}); err != nil {
		t.Fatal(err)
	}
	typ, b, err = c.Read(t.Context())
	if err != nil || typ != websocket.MessageBinary || string(b) != "echo:\x00\x01\x02\xff" {
		t.Fatalf("echo = %v %q %v", typ, b, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	in := v.guest.last(t)
	for _, h := range []string{"Cookie", "Authorization", "Origin"} {
		if got := in.Header.Values(h); len(got) > 0 {
			t.Errorf("%s forwarded to the guest: %q", h, got)
		}
	}
}

func TestNoVNCWebSocket(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	t.Run("cookie same origin", func(t *testing.T) {
		v.dialWS(t, http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}})
	})
	t.Run("token without origin", func(t *testing.T) {
		v.dialWS(t, http.Header{"Authorization": {"Bearer " + v.token}})
	})
	t.Run("trusted origin", func(t *testing.T) {
		v := newVNCEnv(t)
		v.srv.cfg.TrustedOrigins = []string{"https://app.example.com"}
		v.dialWS(t, http.Header{"Cookie": {v.cookie}, "Origin": {"https://app.example.com"}})
	})
}

// refused is env.do for requests that must be refused: a handshake the proxy let through fails at
// once instead of waiting on a WebSocket that stays open.
func (v *vncEnv) refused(t *testing.T, path string, headers ...string) *resp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", v.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := v.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusSwitchingProtocols {
		t.Fatalf("GET %s was upgraded to a WebSocket", path)
	}
	b, _ := io.ReadAll(res.Body)
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

func TestNoVNCRefusals(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	stopped := v.insertVM(v.vm.UserID, polydev.VMBrowser)
	if err := v.store.SetVMState(t.Context(), stopped.ID, polydev.VMRunning, polydev.VMStopped, stopped.CreatedAt); err != nil {
		t.Fatal(err)
	}
	unknown := "/api/vms/" + polydev.NewID() + "/novnc/vnc.html"
	ws := append([]string{"Cookie", v.cookie}, upgradeHeaders...)
	for _, tc := range []struct {
		name    string
		path    string
		headers []string
		status  int
		code    string
		message string
	}{
		{"unauthenticated", v.path("vnc.html"), nil, http.StatusUnauthorized, polydev.EUNAUTHORIZED, "authentication required"},
		{"unauthenticated websocket", v.path("websockify"), append(upgradeHeaders, "Origin", v.ts.URL), http.StatusUnauthorized, polydev.EUNAUTHORIZED, "authentication required"},
		{"other user's VM", v.path("vnc.html"), []string{"Cookie", v.otherCookie}, http.StatusNotFound, polydev.ENOTFOUND, "VM not found"},
		{"other user's VM websocket", v.path("websockify"), append([]string{"Cookie", v.otherCookie, "Origin", v.ts.URL}, upgradeHeaders...), http.StatusNotFound, polydev.ENOTFOUND, "VM not found"},
		{"unknown VM", unknown, []string{"Cookie", v.cookie}, http.StatusNotFound, polydev.ENOTFOUND, "VM not found"},
		{"malformed id", "/api/vms/x%00y/novnc/vnc.html", []string{"Cookie", v.cookie}, http.StatusNotFound, polydev.ENOTFOUND, "VM not found"},
		{"cross-site origin", v.path("websockify"), append(ws, "Origin", "https://evil.example"), http.StatusForbidden, polydev.EFORBIDDEN, "cross-origin WebSocket"},
		{"look-alike origin", v.path("websockify"), append(ws, "Origin", v.ts.URL+".evil.example"), http.StatusForbidden, polydev.EFORBIDDEN, "cross-origin WebSocket"},
		{"null origin", v.path("websockify"), append(ws, "Origin", "null"), http.StatusForbidden, polydev.EFORBIDDEN, "cross-origin WebSocket"},
		{"no origin", v.path("websockify"), ws, http.StatusForbidden, polydev.EFORBIDDEN, "cross-origin WebSocket"},
		{"other upgrade", v.path("websockify"), []string{"Cookie", v.cookie, "Origin", v.ts.URL, "Connection", "Upgrade", "Upgrade", "h2c"}, http.StatusBadRequest, polydev.EINVALID, "only WebSocket upgrades"},
		{"stopped VM", "/api/vms/" + stopped.ID + "/novnc/vnc.html", []string{"Cookie", v.cookie}, http.StatusConflict, polydev.ECONFLICT, "not running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := v.guest.count()
			got := v.want(v.refused(t, tc.path, tc.headers...), tc.status).errorBody(t)
			if got.Code != tc.code || !strings.Contains(got.Message, tc.message) {
				t.Errorf("error = %+v", got)
			}
			if v.guest.count() != before {
				t.Error("a refused request reached the guest")
			}
		})
	}
	// Another user's VM and a made-up id are the same answer.
	a := v.do("GET", v.path("vnc.html"), nil, "Cookie", v.otherCookie)
	b := v.do("GET", unknown, nil, "Cookie", v.otherCookie)
	if a.status != b.status || string(a.body) != string(b.body) {
		t.Errorf("other's VM %d %s, unknown %d %s", a.status, a.body, b.status, b.body)
	}
}

func TestNoVNCUnavailable(t *testing.T) {
	t.Parallel()
	t.Run("no controller", func(t *testing.T) {
		v := newVNCEnv(t)
		v.srv.vms = nil
		got := v.want(v.do("GET", v.path("vnc.html"), nil, "Cookie", v.cookie), http.StatusServiceUnavailable).errorBody(t)
		if got.Code != polydev.EUNAVAILABLE || !strings.Contains(got.Message, "VM support is off") {
			t.Errorf("error = %+v", got)
		}
	})
	t.Run("guest not listening", func(t *testing.T) {
		v := newVNCEnv(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		v.ctl.addr = l.Addr().String()
		l.Close()
		r := v.want(v.do("GET", v.path("vnc.html"), nil, "Cookie", v.cookie), http.StatusServiceUnavailable)
		got := r.errorBody(t)
		if got.Code != polydev.EUNAVAILABLE || !strings.Contains(got.Message, "not reachable yet") || strings.Contains(got.Message, "127.0.0.1") {
			t.Errorf("error = %+v", got)
		}
		if r.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("X-Frame-Options = %q", r.header.Values("X-Frame-Options"))
		}
	})
	t.Run("stopped between check and dial", func(t *testing.T) {
		v := newVNCEnv(t)
		v.srv.vms = &stoppingController{v.ctl}
		got := v.want(v.do("GET", v.path("vnc.html"), nil, "Cookie", v.cookie), http.StatusConflict).errorBody(t)
		if got.Code != polydev.ECONFLICT {
			t.Errorf("error = %+v", got)
		}
	})
}

// stoppingController answers Dial as a controller whose VM stopped after the handler looked.
type stoppingController struct{ *vncController }

func (c *stoppingController) Dial(context.Context, *polydev.User, string, uint16) (net.Conn, error) {
	return nil, polydev.Errorf(polydev.ECONFLICT, "VM is not running")
}

// TestNoVNCRealScreenshot goes through the route to a real websockify, x11vnc and Xvfb, as a
// browser VM serves them: the page from websockify's web root, and screenshots over the proxied
// WebSocket with the browser's cookie and Origin.
func TestNoVNCRealScreenshot(t *testing.T) {
	t.Parallel()
	web := t.TempDir()
	if err := os.WriteFile(filepath.Join(web, "vnc.html"), []byte("<title>real noVNC stand-in</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := rfbtest.Start(t, rfbtest.Options{WebDir: web})
	v := newVNCEnv(t)
	v.ctl.addr = d.WSAddr

	r := v.want(v.do("GET", v.path("vnc.html"), nil, "Cookie", v.cookie), http.StatusOK)
	if string(r.body) != "<title>real noVNC stand-in</title>" {
		t.Fatalf("page = %q", r.body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a bound for hung tools, not a measure
	defer cancel()
	dial := func(ctx context.Context) (net.Conn, error) {
		return rfb.DialWebSocket(ctx, v.wsURL("websockify"), &websocket.DialOptions{
			HTTPHeader: http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}}})
	}
	rfbtest.Eventually(ctx, t, dial, "a blank black screen", rfb.Blank)
	d.SetRoot("-mod", "16", "16", "-fg", "red", "-bg", "black")
	rfbtest.Eventually(ctx, t, dial, "a red and black grid", func(img *image.RGBA) bool {
		return !rfb.Blank(img) && rfbtest.Contains(img, color.RGBA{R: 0xff, A: 0xff})
	})
}
