package egress

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev/netguard"
)

// fakeDNS maps names to loopback addresses and records every lookup, so tests can prove a
// refused host was never resolved. No real DNS is ever queried.
type fakeDNS struct {
	mu      sync.Mutex
	names   map[string]string
	lookups []string
}

func (f *fakeDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups = append(f.lookups, host)
	a, ok := f.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []net.IPAddr{{IP: net.ParseIP(a)}}, nil
}

func (f *fakeDNS) looked(host string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.lookups {
		if l == host {
			return true
		}
	}
	return false
}

// logBuf collects log output safely across goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is a Proxy serving one VM on a loopback TCP listener, with a fake resolver and a log.
type env struct {
	t     *testing.T
	p     *Proxy
	dns   *fakeDNS
	log   *logBuf
	vmID  string
	addr  string // the VM's proxy listener
	guard *netguard.Policy
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{t: t, dns: &fakeDNS{names: map[string]string{}}, log: &logBuf{}, vmID: "vm-1"}
	if cfg.Guard == nil {
		g, err := netguard.ParseAllowList("127.0.0.0/8")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Guard = g
	}
	cfg.Guard = cfg.Guard.WithResolver(e.dns)
	e.guard = cfg.Guard
	cfg.Log = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.p = p
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	if err := p.Serve(e.vmID, ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.CloseVM(e.vmID) })
	return e
}

// tlsServer is a loopback HTTPS server known to the fake resolver as name; it answers "hello from
// NAME" and, on /big, n bytes.
func (e *env) tlsServer(name string) (*httptest.Server, uint16) {
	e.t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = w.Write(bytes.Repeat([]byte("x"), 1<<20))
			return
		}
		fmt.Fprintf(w, "hello from %s", name)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // tunnels the tests cut mid-handshake
	srv.StartTLS()
	e.t.Cleanup(srv.Close)
	e.dns.names[name] = "127.0.0.1"
	return srv, port(e.t, srv.Listener.Addr())
}

func port(t *testing.T, a net.Addr) uint16 {
	t.Helper()
	return uint16(a.(*net.TCPAddr).Port)
}

// client is an HTTP client that goes through the VM's proxy and trusts srv's certificate.
func (e *env) client(srv *httptest.Server) *http.Client {
	proxy, _ := url.Parse("http://" + e.addr)
	tr := &http.Transport{Proxy: http.ProxyURL(proxy), DisableKeepAlives: true}
	if srv != nil {
		tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		tr.TLSClientConfig.ServerName = "example.com" // httptest's certificate names example.com
	}
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// rawConnect sends CONNECT target on a fresh connection to the proxy and returns the answer and
// the connection (open on success).
func (e *env) rawConnect(target string) (*http.Response, net.Conn, *bufio.Reader) {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, c, br
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testUpstream is an operator proxy on loopback: it requires Basic user:pass, records what it was
// asked, and tunnels CONNECTs (names resolved by its own table) or forwards absolute-form
// requests.
type testUpstream struct {
	user, pass string
	names      map[string]string

	mu      sync.Mutex
	targets []string
	auths   []string
	addr    string
}

func startUpstream(t *testing.T, user, pass string, names map[string]string) *testUpstream {
	t.Helper()
	u := &testUpstream{user: user, pass: pass, names: names}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	u.addr = srv.Listener.Addr().String()
	return u
}

func (u *testUpstream) resolve(hostport string) string {
	h, p, _ := net.SplitHostPort(hostport)
	if a, ok := u.names[h]; ok {
		return net.JoinHostPort(a, p)
	}
	return hostport
}

func (u *testUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Host
	if r.Method != http.MethodConnect {
		target = r.URL.Host
	}
	u.mu.Lock()
	u.targets = append(u.targets, r.Method+" "+target)
	u.auths = append(u.auths, r.Header.Get("Proxy-Authorization"))
	u.mu.Unlock()
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(u.user+":"+u.pass))
	if r.Header.Get("Proxy-Authorization") != want {
		w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusProxyAuthRequired)
		return
	}
	if r.Method != http.MethodConnect {
		out, _ := http.NewRequest(r.Method, "http://"+u.resolve(r.URL.Host)+r.URL.RequestURI(), r.Body)
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	dst, err := net.Dial("tcp", u.resolve(target))
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	src, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		dst.Close()
		return
	}
	_, _ = io.WriteString(src, "HTTP/1.1 200 OK\r\n\r\n")
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		_, _ = dst.Write(b)
	}
	go func() { _, _ = io.Copy(dst, src); dst.Close() }()
	_, _ = io.Copy(src, dst)
	src.Close()
}

func (u *testUpstream) seen() ([]string, []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.targets...), append([]string(nil), u.auths...)
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

func publicOnly() *netguard.Policy { return &netguard.Policy{} }

// waitFor polls cond until it holds; the test's own timeout bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		time.Sleep(5 * time.Millisecond)
	}
}

// httpServer is a loopback plain-HTTP server known to the fake resolver as name; it echoes the
// request's URI and Host.
func httpServer(t *testing.T, e *env, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain %s host=%s", r.URL.RequestURI(), r.Host)
	}))
	t.Cleanup(srv.Close)
	e.dns.names[name] = "127.0.0.1"
	return srv
}

// open binds a session allowing rules to the env's VM and closes it at cleanup.
func (e *env) open(session string, rules ...Rule) *Session {
	e.t.Helper()
	s, err := e.p.Open(e.vmID, Policy{Session: session, Allow: rules})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(s.Close)
	return s
}

// getHello fetches https://login.test:p/ through the proxy and checks the test server's answer.
func (e *env) getHello(srv *httptest.Server, p uint16) {
	e.t.Helper()
	resp, err := e.client(srv).Get("https://login.test:" + itoa(p) + "/")
	if err != nil {
		e.t.Fatal(err)
	}
	if got := body(e.t, resp); got != "hello from login.test" {
		e.t.Fatalf("body = %q", got)
	}
}
