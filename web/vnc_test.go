package web

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
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

// fakeWebsockify plays the guest's websockify: on /websockify a WebSocket that greets like a VNC
// server and then echoes. It records what reached it and answers with headers a hostile guest
// might send, which must not reach the browser. earlyHints makes it send a 103 first; page makes
// it answer with a page of its own instead of the WebSocket.
type fakeWebsockify struct {
	ts         *httptest.Server
	earlyHints atomic.Bool
	page       atomic.Bool

	mu   sync.Mutex
	seen []*http.Request
}

const guestPage = "<script>fetch('/api/account/tokens',{method:'POST'})</script>"

func newFakeWebsockify(t *testing.T) *fakeWebsockify {
	f := &fakeWebsockify{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /websockify", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if f.earlyHints.Load() {
			h.Set("Link", "</evil.js>; rel=preload; as=script")
			h.Set("Set-Cookie", SessionCookie+"=guest-chosen; Path=/; Secure")
			w.WriteHeader(http.StatusEarlyHints)
			h.Del("Link")
			h.Del("Set-Cookie")
		}
		if f.page.Load() {
			h.Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(guestPage))
			return
		}
		h.Set("Set-Cookie", SessionCookie+"=guest-chosen; Path=/; Secure")
		h.Set("Strict-Transport-Security", "max-age=31536000")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Content-Security-Policy", "script-src *")
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
	otherVM     *polydev.VM // the other user's running VM
	novncDir    string      // the host's noVNC directory
}

// The host's noVNC directory in tests: a page, a script, a directory, a symlink inside and two
// symlinks leading out to a file that must never be served.
const (
	stubPage   = "<!DOCTYPE html><title>noVNC host copy</title>"
	stubScript = "export default 1;\n"
	outsideMsg = "TOP-SECRET host file outside the noVNC directory"
)

func newNoVNCDir(t *testing.T) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "novnc")
	for name, body := range map[string]string{
		"vnc.html":            stubPage,
		"app/ui.js":           stubScript,
		"app/styles/base.css": "body{}",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte(outsideMsg), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{
		"vnc_auto.html": "vnc.html",
		"leak.txt":      "../secret.txt",
		"up":            "..",
		"abs.txt":       filepath.Join(base, "secret.txt"),
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newVNCEnv starts the API with a controller whose VMs are running: one belongs to the cookie's
// user, one to the other user. The proxy does not touch SQL beyond VMByID, so one engine is enough.
func newVNCEnv(t *testing.T) *vncEnv {
	t.Helper()
	dir := newNoVNCDir(t)
	e := newEnv(t, "sqlite", Config{NoVNCDir: dir})
	guest := newFakeWebsockify(t)
	ctl := &vncController{store: e.store, addr: guest.ts.Listener.Addr().String()}
	e.srv.vms = ctl
	cookie := e.signup("owner@example.com", pw)
	token, _ := e.token(cookie)
	other := e.signup("other@example.com", pw)
	owner, err := e.store.UserByEmail(t.Context(), "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	otherUser, err := e.store.UserByEmail(t.Context(), "other@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return &vncEnv{env: e, guest: guest, ctl: ctl, cookie: cookie, token: token, otherCookie: other, novncDir: dir,
		vm: e.insertVM(owner.ID, polydev.VMBrowser), otherVM: e.insertVM(otherUser.ID, polydev.VMBrowser)}
}

func wsPath(id string) string { return "/api/vms/" + id + "/novnc/websockify" }

func (v *vncEnv) wsURL(pathAndQuery string) string {
	return "ws" + strings.TrimPrefix(v.ts.URL, "http") + pathAndQuery
}

// ticket asks for a viewer ticket for VM id with the given credentials.
func (v *vncEnv) ticket(t *testing.T, id string, auth ...string) vncTicketResponse {
	t.Helper()
	var out vncTicketResponse
	v.want(v.do("POST", "/api/vms/"+id+"/vnc-ticket", nil, auth...), http.StatusOK).json(t, &out)
	return out
}

func withTicket(id, ticket string) string {
	return wsPath(id) + "?" + url.Values{"ticket": {ticket}}.Encode()
}

// upgradeHeaders make a plain request a WebSocket handshake, for answers that must come before any
// upgrade happens.
var upgradeHeaders = []string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13",
	"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}

func TestVNCTicketIssue(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	v.clock.set(3 * time.Hour)
	r := v.want(v.do("POST", "/api/vms/"+v.vm.ID+"/vnc-ticket", nil, "Cookie", v.cookie), http.StatusOK)
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q", got)
	}
	var got vncTicketResponse
	r.json(t, &got)
	if !strings.HasPrefix(got.Ticket, vncTicketPrefix) || len(got.Ticket) != len(vncTicketPrefix)+43 {
		t.Errorf("ticket %q is not pdv_ and 32 random bytes", got.Ticket)
	}
	if want := v.clock.now().Add(vncTicketTTL); got.ExpiresAt.Before(want.Add(-5*time.Second)) || got.ExpiresAt.After(want) {
		t.Errorf("expiresAt = %v, want about %v", got.ExpiresAt, want)
	}
	if want := withTicket(v.vm.ID, got.Ticket); got.Path != want {
		t.Errorf("path = %q, want %q", got.Path, want)
	}
	page, frag, ok := strings.Cut(got.URL, "#")
	if !ok || page != "/novnc/vnc.html" {
		t.Fatalf("url = %q", got.URL)
	}
	q, err := url.ParseQuery(frag)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("autoconnect") != "true" || q.Get("path") != strings.TrimPrefix(got.Path, "/") {
		t.Errorf("viewer fragment = %v", q)
	}
	// noVNC reads each value as decodeURIComponent of what follows "name=" up to the next "&".
	if strings.Count(frag, "&") != len(q)-1 || !strings.Contains(frag, "path=api%2Fvms%2F"+v.vm.ID+"%2Fnovnc%2Fwebsockify%3Fticket%3D"+got.Ticket) {
		t.Errorf("viewer fragment %q is not one noVNC parses", frag)
	}
	// Kept hashed only.
	v.srv.vnc.tickets.mu.Lock()
	_, hashed := v.srv.vnc.tickets.byHash[sha256.Sum256([]byte(got.Ticket))]
	v.srv.vnc.tickets.mu.Unlock()
	if !hashed {
		t.Error("ticket not kept as its SHA-256")
	}
	// Token callers may ask too.
	v.ticket(t, v.vm.ID, "Authorization", "Bearer "+v.token)
	if strings.Contains(v.logs.String(), got.Ticket) {
		t.Error("a ticket reached the logs")
	}
}

func TestVNCTicketRefusals(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	stopped := v.insertVM(v.vm.UserID, polydev.VMBrowser)
	if err := v.store.SetVMState(t.Context(), stopped.ID, polydev.VMRunning, polydev.VMStopped, stopped.CreatedAt); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		id      string
		headers []string
		status  int
		code    string
		message string
	}{
		{"unauthenticated", v.vm.ID, nil, http.StatusUnauthorized, polydev.EUNAUTHORIZED, "authentication required"},
		{"other user's VM", v.vm.ID, []string{"Cookie", v.otherCookie}, http.StatusNotFound, polydev.ENOTFOUND, "VM not found"},
		{"unknown VM", polydev.NewID(), []string{"Cookie", v.cookie}, http.StatusNotFound, polydev.ENOTFOUND, "VM not found"},
		{"stopped VM", stopped.ID, []string{"Cookie", v.cookie}, http.StatusConflict, polydev.ECONFLICT, "not running"},
		{"cross-site", v.vm.ID, []string{"Cookie", v.cookie, "Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, polydev.EFORBIDDEN, "cross-origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := v.want(v.do("POST", "/api/vms/"+tc.id+"/vnc-ticket", nil, tc.headers...), tc.status).errorBody(t)
			if got.Code != tc.code || !strings.Contains(got.Message, tc.message) {
				t.Errorf("error = %+v", got)
			}
		})
	}
	if n := v.srv.vnc.tickets.len(); n != 0 {
		t.Errorf("%d tickets issued by refused requests", n)
	}
	t.Run("VM support off", func(t *testing.T) {
		v := newVNCEnv(t)
		v.srv.vms = nil
		got := v.want(v.do("POST", "/api/vms/"+v.vm.ID+"/vnc-ticket", nil, "Cookie", v.cookie), http.StatusServiceUnavailable).errorBody(t)
		if got.Code != polydev.EUNAVAILABLE || !strings.Contains(got.Message, "VM support is off") {
			t.Errorf("error = %+v", got)
		}
	})
}

// dialWS opens the proxied WebSocket with a fresh ticket and the given headers and checks the VNC
// greeting and an echo, so bytes are shown to flow both ways, and what the guest and the browser
// were shown.
func (v *vncEnv) dialWS(t *testing.T, auth []string, header http.Header) {
	t.Helper()
	tk := v.ticket(t, v.vm.ID, auth...)
	c, res, err := websocket.Dial(t.Context(), v.wsURL(tk.Path), &websocket.DialOptions{HTTPHeader: header, Subprotocols: []string{"binary"}})
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
	for _, h := range []string{"Set-Cookie", "Strict-Transport-Security", "Access-Control-Allow-Origin", "Content-Security-Policy"} {
		if got := res.Header.Values(h); len(got) > 0 {
			t.Errorf("guest header %s reached the browser: %q", h, got)
		}
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
	if in.URL.Path != "/websockify" || in.URL.RawQuery != "" {
		t.Errorf("guest got %s: the ticket must stay on the host", in.URL)
	}
	for _, h := range []string{"Cookie", "Authorization", "X-Api-Key", "Origin", "X-Forwarded-For", "Forwarded", "X-Request-Id", "User-Agent"} {
		if got := in.Header.Values(h); len(got) > 0 {
			t.Errorf("%s forwarded to the guest: %q", h, got)
		}
	}
	if strings.Contains(in.Host, "127.0.0.1") {
		t.Errorf("guest saw our Host %q", in.Host)
	}
	if strings.Contains(v.logs.String(), tk.Ticket) {
		t.Error("a ticket reached the logs")
	}
}

func TestNoVNCWebSocket(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	t.Run("cookie same origin", func(t *testing.T) {
		v.dialWS(t, []string{"Cookie", v.cookie}, http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}, "X-Forwarded-For": {"203.0.113.9"}})
	})
	t.Run("token without origin", func(t *testing.T) {
		v.dialWS(t, []string{"Authorization", "Bearer " + v.token}, http.Header{"Authorization": {"Bearer " + v.token}})
	})
	t.Run("x-api-key", func(t *testing.T) {
		v.dialWS(t, []string{"X-Api-Key", v.token}, http.Header{"X-Api-Key": {v.token}})
	})
	t.Run("trusted origin", func(t *testing.T) {
		v := newVNCEnv(t)
		v.srv.cfg.TrustedOrigins = []string{"https://app.example.com"}
		v.dialWS(t, []string{"Cookie", v.cookie}, http.Header{"Cookie": {v.cookie}, "Origin": {"https://app.example.com"}})
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

// TestNoVNCTickets: a WebSocket needs a ticket of its own user and VM, once, within its minute.
func TestNoVNCTickets(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	second := v.insertVM(v.vm.UserID, polydev.VMBrowser)
	owner := []string{"Cookie", v.cookie}
	ws := func(cookie string) []string {
		return append([]string{"Cookie", cookie, "Origin", v.ts.URL}, upgradeHeaders...)
	}
	refuse := func(t *testing.T, path string, headers []string, status int, message string) {
		t.Helper()
		before := v.guest.count()
		got := v.want(v.refused(t, path, headers...), status).errorBody(t)
		if !strings.Contains(got.Message, message) {
			t.Errorf("error = %+v, want %q", got, message)
		}
		if status == http.StatusForbidden && got.Code != polydev.EFORBIDDEN {
			t.Errorf("code = %q", got.Code)
		}
		if v.guest.count() != before {
			t.Error("a refused WebSocket reached the guest")
		}
	}

	t.Run("happy path", func(t *testing.T) {
		v.dialWS(t, owner, http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}})
	})
	t.Run("reuse", func(t *testing.T) {
		tk := v.ticket(t, v.vm.ID, owner...)
		c, _, err := websocket.Dial(t.Context(), v.wsURL(tk.Path), &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		refuse(t, tk.Path, ws(v.cookie), http.StatusForbidden, "unknown or already used")
	})
	t.Run("expired", func(t *testing.T) {
		tk := v.ticket(t, v.vm.ID, owner...)
		v.clock.set(vncTicketTTL + time.Second)
		defer v.clock.set(0)
		refuse(t, tk.Path, ws(v.cookie), http.StatusForbidden, "expired")
	})
	t.Run("other VM's ticket", func(t *testing.T) {
		tk := v.ticket(t, second.ID, owner...)
		refuse(t, withTicket(v.vm.ID, tk.Ticket), ws(v.cookie), http.StatusForbidden, "another VM or user")
		// A refused ticket is spent: it no longer opens its own VM either.
		refuse(t, tk.Path, ws(v.cookie), http.StatusForbidden, "unknown or already used")
	})
	t.Run("other user's ticket", func(t *testing.T) {
		theirs := v.ticket(t, v.otherVM.ID, "Cookie", v.otherCookie)
		refuse(t, withTicket(v.vm.ID, theirs.Ticket), ws(v.cookie), http.StatusForbidden, "another VM or user")
		// The owner's ticket in another user's hands: that user does not see the VM at all.
		mine := v.ticket(t, v.vm.ID, owner...)
		refuse(t, mine.Path, ws(v.otherCookie), http.StatusNotFound, "VM not found")
	})
	t.Run("missing", func(t *testing.T) {
		refuse(t, wsPath(v.vm.ID), ws(v.cookie), http.StatusForbidden, "ticket is required")
	})
	t.Run("made up", func(t *testing.T) {
		for _, bad := range []string{"pdv_x", "pd_" + strings.Repeat("A", 43), vncTicketPrefix + strings.Repeat("A", 100), "%00"} {
			refuse(t, wsPath(v.vm.ID)+"?ticket="+url.QueryEscape(bad), ws(v.cookie), http.StatusForbidden, "unknown or already used")
		}
	})
}

func TestVNCTicketsBounded(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var ts vncTickets
	// One user keeps at most vncTicketsPerUser: the oldest goes.
	var first string
	for i := range vncTicketsPerUser + 3 {
		s, _, err := ts.issue(now.Add(time.Duration(i)*time.Millisecond), "u1", "vm1")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = s
		}
	}
	if ts.len() != vncTicketsPerUser {
		t.Fatalf("one user holds %d tickets, want %d", ts.len(), vncTicketsPerUser)
	}
	if err := ts.redeem(now, first, "u1", "vm1", vncTicketRoute("vm1")); polydev.ErrorCode(err) != polydev.EFORBIDDEN {
		t.Errorf("the oldest ticket still works: %v", err)
	}
	// All users together at most vncTicketsMax; then a clear 503, until they expire.
	for i := 0; ts.len() < vncTicketsMax; i++ {
		if _, _, err := ts.issue(now, fmt.Sprintf("user%d", i), "vm"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := ts.issue(now, "late", "vm"); err != errVNCTicketsFull {
		t.Fatalf("issue when full = %v", err)
	}
	later := now.Add(vncTicketTTL + time.Second)
	s, _, err := ts.issue(later, "late", "vm")
	if err != nil {
		t.Fatalf("issue after expiry = %v", err)
	}
	if ts.len() != 1 {
		t.Errorf("%d tickets after the sweep, want 1", ts.len())
	}
	if err := ts.redeem(later, s, "late", "vm", vncTicketRoute("vm")); err != nil {
		t.Error(err)
	}
	if ts.len() != 0 || len(ts.perUser) != 0 {
		t.Errorf("after redeeming: %d tickets, %d users", ts.len(), len(ts.perUser))
	}
}

func TestNoVNCRefusals(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	stopped := v.insertVM(v.vm.UserID, polydev.VMBrowser)
	stoppedTicket := v.ticket(t, stopped.ID, "Cookie", v.cookie)
	if err := v.store.SetVMState(t.Context(), stopped.ID, polydev.VMRunning, polydev.VMStopped, stopped.CreatedAt); err != nil {
		t.Fatal(err)
	}
	tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie) // valid throughout: each refusal comes before it is looked at
	path := tk.Path
	unknown := withTicket(polydev.NewID(), tk.Ticket)
	ws := append([]string{"Cookie", v.cookie}, upgradeHeaders...)
	for _, tc := range []struct {
		name    string
		path    string
		headers []string
		status  int
		code    string
		message string
	}{
		{"unauthenticated", path, append(upgradeHeaders, "Origin", v.ts.URL), http.StatusUnauthorized, polydev.EUNAUTHORIZED, "authentication required"},
		{"other user's VM", path, append([]string{"Cookie", v.otherCookie, "Origin", v.ts.URL}, upgradeHeaders...), http.StatusNotFound, polydev.ENOTFOUND, "VM not found"},
		{"unknown VM", unknown, append(ws, "Origin", v.ts.URL), http.StatusNotFound, polydev.ENOTFOUND, "VM not found"},
		{"malformed id", "/api/vms/x%00y/novnc/websockify", append(ws, "Origin", v.ts.URL), http.StatusNotFound, polydev.ENOTFOUND, "VM not found"},
		{"cross-site origin", path, append(ws, "Origin", "https://evil.example"), http.StatusForbidden, polydev.EFORBIDDEN, "cross-origin WebSocket"},
		{"look-alike origin", path, append(ws, "Origin", v.ts.URL+".evil.example"), http.StatusForbidden, polydev.EFORBIDDEN, "cross-origin WebSocket"},
		{"null origin", path, append(ws, "Origin", "null"), http.StatusForbidden, polydev.EFORBIDDEN, "cross-origin WebSocket"},
		{"no origin", path, ws, http.StatusForbidden, polydev.EFORBIDDEN, "cross-origin WebSocket"},
		{"other upgrade", path, []string{"Cookie", v.cookie, "Origin", v.ts.URL, "Connection", "Upgrade", "Upgrade", "h2c"}, http.StatusBadRequest, polydev.EINVALID, "only a WebSocket upgrade"},
		{"upgrade without connection", path, []string{"Cookie", v.cookie, "Origin", v.ts.URL, "Upgrade", "websocket"}, http.StatusBadRequest, polydev.EINVALID, "only a WebSocket upgrade"},
		{"plain GET", path, []string{"Cookie", v.cookie}, http.StatusBadRequest, polydev.EINVALID, "only a WebSocket upgrade"},
		{"stopped VM", stoppedTicket.Path, append(ws, "Origin", v.ts.URL), http.StatusConflict, polydev.ECONFLICT, "not running"},
		// Nothing else of the guest's web server is reachable.
		{"guest page", "/api/vms/" + v.vm.ID + "/novnc/vnc.html", []string{"Cookie", v.cookie}, http.StatusNotFound, polydev.ENOTFOUND, "no such endpoint"},
		{"guest root", "/api/vms/" + v.vm.ID + "/novnc/", []string{"Cookie", v.cookie}, http.StatusNotFound, polydev.ENOTFOUND, "no such endpoint"},
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
	// The ticket was never spent by those refusals.
	v.dialWS(t, []string{"Cookie", v.cookie}, http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}})
	// Another user's VM and a made-up id are the same answer.
	other := append([]string{"Cookie", v.otherCookie, "Origin", v.ts.URL}, upgradeHeaders...)
	a := v.refused(t, path, other...)
	b := v.refused(t, unknown, other...)
	if a.status != b.status || string(a.body) != string(b.body) {
		t.Errorf("other's VM %d %s, unknown %d %s", a.status, a.body, b.status, b.body)
	}
}

func TestNoVNCUnavailable(t *testing.T) {
	t.Parallel()
	dial := func(t *testing.T, v *vncEnv, ticket string) *resp {
		t.Helper()
		return v.refused(t, withTicket(v.vm.ID, ticket), append([]string{"Cookie", v.cookie, "Origin", v.ts.URL}, upgradeHeaders...)...)
	}
	t.Run("no controller", func(t *testing.T) {
		v := newVNCEnv(t)
		v.srv.vms = nil
		got := v.want(dial(t, v, "pdv_x"), http.StatusServiceUnavailable).errorBody(t)
		if got.Code != polydev.EUNAVAILABLE || !strings.Contains(got.Message, "VM support is off") {
			t.Errorf("error = %+v", got)
		}
	})
	t.Run("guest not listening", func(t *testing.T) {
		v := newVNCEnv(t)
		tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		v.ctl.addr = l.Addr().String()
		l.Close()
		r := v.want(dial(t, v, tk.Ticket), http.StatusServiceUnavailable)
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
		tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie)
		v.srv.vms = &stoppingController{v.ctl}
		got := v.want(dial(t, v, tk.Ticket), http.StatusConflict).errorBody(t)
		if got.Code != polydev.ECONFLICT {
			t.Errorf("error = %+v", got)
		}
	})
	t.Run("guest answers with a page", func(t *testing.T) {
		v := newVNCEnv(t)
		v.guest.page.Store(true)
		tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie)
		r := v.want(dial(t, v, tk.Ticket), http.StatusServiceUnavailable)
		got := r.errorBody(t)
		if got.Code != polydev.EUNAVAILABLE || !strings.Contains(got.Message, "did not accept the WebSocket") {
			t.Errorf("error = %+v", got)
		}
		if strings.Contains(string(r.body), "script") || v.guest.count() != 1 {
			t.Errorf("guest page reached the browser, or the guest was not asked: %s", r.body)
		}
	})
}

// stoppingController answers Dial as a controller whose VM stopped after the handler looked.
type stoppingController struct{ *vncController }

func (c *stoppingController) Dial(context.Context, *polydev.User, string, uint16) (net.Conn, error) {
	return nil, polydev.Errorf(polydev.ECONFLICT, "VM is not running")
}

// Headers of a 1xx from the guest are dropped too: ReverseProxy copies those outside ModifyResponse.
func TestNoVNCInformational(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	v.guest.earlyHints.Store(true)
	var mu sync.Mutex
	var got []textproto.MIMEHeader
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		mu.Lock()
		defer mu.Unlock()
		if code != http.StatusSwitchingProtocols {
			got = append(got, h)
		}
		return nil
	}})
	tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie)
	c, _, err := websocket.Dial(ctx, v.wsURL(tk.Path), &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d informational responses, want the guest's one", len(got))
	}
	for _, h := range got {
		if len(h.Values("Link")) > 0 || len(h.Values("Set-Cookie")) > 0 {
			t.Errorf("guest 1xx headers reached the browser: %v", h)
		}
	}
}

// touchStore counts TouchVM calls.
type touchStore struct {
	polydev.Store
	touched chan time.Time
}

func (s *touchStore) TouchVM(ctx context.Context, id string, at time.Time) error {
	s.touched <- at
	return s.Store.TouchVM(ctx, id, at)
}

// An open WebSocket keeps its VM from looking idle: a touch when it opens and at every tick, none
// after it closes.
func TestNoVNCKeepsVMAlive(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	ts := &touchStore{Store: v.srv.store, touched: make(chan time.Time, 16)}
	v.srv.store = ts
	ticks := make(chan time.Time)
	stopped := make(chan struct{})
	var interval time.Duration
	v.srv.vnc.newTicker = func(d time.Duration) (<-chan time.Time, func()) {
		interval = d
		return ticks, func() { close(stopped) }
	}
	v.clock.set(7 * time.Minute)
	wait := func(what string) time.Time {
		t.Helper()
		select {
		case at := <-ts.touched:
			return at
		case <-t.Context().Done():
			t.Fatalf("no touch %s", what)
		}
		return time.Time{}
	}
	tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie)
	if len(ts.touched) != 0 {
		t.Fatal("touched before any WebSocket")
	}
	c, _, err := websocket.Dial(t.Context(), v.wsURL(tk.Path), &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	at := wait("when the WebSocket opened")
	if interval != time.Minute {
		t.Errorf("touch interval %v, want a minute", interval)
	}
	if at.Before(v.vm.LastActivityAt.Add(6 * time.Minute)) {
		t.Errorf("touched at %v, not the server's clock", at)
	}
	for i := range 2 {
		select {
		case ticks <- time.Now():
		case <-t.Context().Done():
			t.Fatal("ticker not read")
		}
		wait(fmt.Sprintf("at tick %d", i+1))
	}
	got, err := v.store.VMByID(t.Context(), v.vm.UserID, v.vm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.LastActivityAt.After(v.vm.LastActivityAt.Add(6 * time.Minute)) {
		t.Errorf("LastActivityAt = %v, was %v", got.LastActivityAt, v.vm.LastActivityAt)
	}
	c.Close(websocket.StatusNormalClosure, "")
	select {
	case <-stopped:
	case <-t.Context().Done():
		t.Fatal("ticker not stopped when the WebSocket closed")
	}
	if n := len(ts.touched); n != 0 {
		t.Errorf("%d touches after close", n)
	}
}

// rawGet sends target exactly as given (no client-side cleaning) and returns the answer.
func rawGet(t *testing.T, base, target string) *resp {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	conn, err := d.DialContext(t.Context(), "tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, u.Host); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

func TestNoVNCStatic(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	for _, tc := range []struct{ path, body, ctype string }{
		{"/novnc/vnc.html", stubPage, "text/html; charset=utf-8"},
		{"/novnc/", stubPage, "text/html; charset=utf-8"},
		{"/novnc/vnc_auto.html", stubPage, "text/html; charset=utf-8"}, // a symlink inside the directory
		{"/novnc/app/ui.js", stubScript, "text/javascript; charset=utf-8"},
		{"/novnc/app/styles/base.css", "body{}", "text/css; charset=utf-8"},
	} {
		// No credentials: these are the public noVNC client's files.
		r := v.want(v.do("GET", tc.path, nil), http.StatusOK)
		if string(r.body) != tc.body || r.header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s = %q %q", tc.path, r.body, r.header.Get("Content-Type"))
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, d := range []string{"script-src 'self'", "connect-src 'self'", "frame-ancestors 'self'", "object-src 'none'", "default-src 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s: CSP %q lacks %s", tc.path, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q allows unsafe sources", tc.path, csp)
		}
		if got := r.header.Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options = %q", tc.path, got)
		}
		if got := r.header.Values("X-Frame-Options"); len(got) != 1 || got[0] != "SAMEORIGIN" {
			t.Errorf("%s: X-Frame-Options = %q", tc.path, got)
		}
	}
	if v.guest.count() != 0 {
		t.Error("a static file request reached the guest")
	}
	// Conditional and HEAD requests work as for any static file.
	r := v.want(v.do("GET", "/novnc/vnc.html", nil), http.StatusOK)
	v.want(v.do("GET", "/novnc/vnc.html", nil, "If-Modified-Since", r.header.Get("Last-Modified")), http.StatusNotModified)
	v.want(v.do("HEAD", "/novnc/app/ui.js", nil), http.StatusOK)

	for _, p := range []string{"/novnc/app", "/novnc/app/", "/novnc/missing.js", "/novnc/leak.txt", "/novnc/abs.txt", "/novnc/up/secret.txt", "/novnc/up/novnc/vnc.html"} {
		got := v.want(v.do("GET", p, nil), http.StatusNotFound).errorBody(t)
		if got.Code != polydev.ENOTFOUND {
			t.Errorf("%s: %+v", p, got)
		}
	}
}

// No spelling of a path reaches a file outside the noVNC directory.
func TestNoVNCStaticTraversal(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	for _, target := range []string{
		"/novnc/../secret.txt", "/novnc/%2e%2e/secret.txt", "/novnc/%2E%2E%2Fsecret.txt", "/novnc/..%2fsecret.txt",
		"/novnc/app/../../secret.txt", "/novnc/..%5csecret.txt", "/novnc/....//secret.txt", "/novnc//../secret.txt",
		"/novnc/%2fetc%2fpasswd", "/novnc//etc/passwd", "/novnc/leak.txt", "/novnc/up/secret.txt", "/novnc/vnc.html%00",
		"/novnc/" + strings.Repeat("../", 20) + "etc/passwd",
	} {
		r := rawGet(t, v.ts.URL, target)
		if r.status == http.StatusOK || strings.Contains(string(r.body), outsideMsg) || strings.Contains(string(r.body), "root:") {
			t.Errorf("GET %s = %d %.80q", target, r.status, r.body)
		}
	}
}

func TestNoVNCStaticMissing(t *testing.T) {
	t.Parallel()
	v := newVNCEnv(t)
	v.srv.cfg.NoVNCDir = filepath.Join(t.TempDir(), "absent")
	got := v.want(v.do("GET", "/novnc/vnc.html", nil), http.StatusServiceUnavailable).errorBody(t)
	if got.Code != polydev.EUNAVAILABLE || !strings.Contains(got.Message, "apt-get install novnc") || strings.Contains(got.Message, "absent") {
		t.Errorf("error = %+v", got)
	}
	// The WebSocket does not need the page: other clients still connect.
	v.dialWS(t, []string{"Authorization", "Bearer " + v.token}, http.Header{"Authorization": {"Bearer " + v.token}})
}

// The Debian package's own files, when installed (make test installs novnc): the page and the
// module script it loads are served with types a browser accepts under nosniff.
func TestNoVNCStaticDebian(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(filepath.Join(DefaultNoVNCDir, "vnc.html")); err != nil {
		t.Skip("SKIP: noVNC is not installed (apt-get install novnc)")
	}
	v := newVNCEnv(t)
	v.srv.cfg.NoVNCDir = ""
	tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie)
	page, _, _ := strings.Cut(tk.URL, "#")
	r := v.want(v.do("GET", page, nil), http.StatusOK)
	if !strings.Contains(string(r.body), "noVNC") || !strings.Contains(string(r.body), `src="app/ui.js"`) {
		t.Fatalf("vnc.html = %.200s", r.body)
	}
	for _, p := range []string{"app/ui.js", "core/rfb.js", "app/error-handler.js", "app/styles/base.css"} {
		r := v.want(v.do("GET", "/novnc/"+p, nil), http.StatusOK)
		want := "text/javascript"
		if strings.HasSuffix(p, ".css") {
			want = "text/css"
		}
		if !strings.HasPrefix(r.header.Get("Content-Type"), want) {
			t.Errorf("%s: Content-Type %q", p, r.header.Get("Content-Type"))
		}
	}
}

// TestNoVNCRealScreenshot goes through the route to a real websockify, x11vnc and Xvfb, as a
// browser VM serves them: a ticket first, then screenshots over the proxied WebSocket with the
// browser's cookie and Origin.
func TestNoVNCRealScreenshot(t *testing.T) {
	t.Parallel()
	d := rfbtest.Start(t, rfbtest.Options{})
	v := newVNCEnv(t)
	v.ctl.addr = d.WSAddr

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a bound for hung tools, not a measure
	defer cancel()
	dial := func(ctx context.Context) (net.Conn, error) {
		tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie) // one per WebSocket
		return rfb.DialWebSocket(ctx, v.wsURL(tk.Path), &websocket.DialOptions{
			HTTPHeader: http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}}})
	}
	rfbtest.Eventually(ctx, t, dial, "a blank black screen", rfb.Blank)
	d.SetRoot("-mod", "16", "16", "-fg", "red", "-bg", "black")
	rfbtest.Eventually(ctx, t, dial, "a red and black grid", func(img *image.RGBA) bool {
		return !rfb.Blank(img) && rfbtest.Contains(img, color.RGBA{R: 0xff, A: 0xff})
	})
	// A ticket opens one WebSocket only, here as anywhere.
	tk := v.ticket(t, v.vm.ID, "Cookie", v.cookie)
	hdr := &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {v.cookie}, "Origin": {v.ts.URL}}}
	conn, err := rfb.DialWebSocket(ctx, v.wsURL(tk.Path), hdr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if _, err := rfb.DialWebSocket(ctx, v.wsURL(tk.Path), hdr); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("second WebSocket with one ticket: %v", err)
	}
}
