package netguard

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// tlsUpstream is an https test server on 127.0.0.1 (HTTP/2 when h2) that
// answers its protocol and counts requests.
func tlsUpstream(t *testing.T, h2 bool) (*httptest.Server, *counter) {
	t.Helper()
	hits := &counter{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.add()
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(r.Proto))
	}))
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.Listener.Addr().String(), "127.0.0.1:") {
		t.Skipf("httptest listens on %s, not 127.0.0.1", srv.Listener.Addr())
	}
	return srv, hits
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *counter) get() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// trusting is a base transport that trusts srv's certificate (issued for
// example.com and 127.0.0.1), for any host name.
func trusting(srv *httptest.Server) *http.Transport {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"}}
}

func fetch(c *http.Client, rawURL string) (proto string, err error) {
	resp, err := c.Post(rawURL, "application/json", strings.NewReader(`{"x":1}`))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(resp.Status)
	}
	return string(b), err
}

func TestHTTP2UpstreamsAreReachable(t *testing.T) {
	t.Parallel()
	srv, hits := tlsUpstream(t, true)
	c := mustPolicy(t, "127.0.0.0/8", failResolver{t}).Client(trusting(srv))
	defer c.CloseIdleConnections()
	for range 3 {
		proto, err := fetch(c, srv.URL+"/v1/messages")
		if err != nil {
			t.Fatal(err)
		}
		if proto != "HTTP/2.0" {
			t.Fatalf("server saw %s, want HTTP/2.0", proto)
		}
	}
	// The guard holds for HTTP/2 connections too.
	_, err := fetch(mustPolicy(t, "", failResolver{t}).Client(trusting(srv)), srv.URL+"/v1/messages")
	wantBlocked(t, err)
	if n := hits.get(); n != 3 {
		t.Fatalf("server hits = %d, want 3", n)
	}
}

// wantTimeout checks that err is a net.Error timeout: the adapters report
// those as upstream timeouts (504), not as network failures.
func wantTimeout(t *testing.T, err error, what string) {
	t.Helper()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout error (%s)", err, what)
	}
	if !strings.Contains(err.Error(), what) {
		t.Fatalf("err = %v, want it to mention %q", err, what)
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	t.Parallel()
	// A server that accepts and never says anything.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	c := mustPolicy(t, "127.0.0.0/8", failResolver{t}).Client(&http.Transport{TLSHandshakeTimeout: 100 * time.Millisecond})
	_, err = fetch(c, "https://"+ln.Addr().String()+"/v1")
	wantTimeout(t, err, "TLS handshake timeout")
}

func TestFirstByteTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	c := mustPolicy(t, "127.0.0.0/8", failResolver{t}).Client(&http.Transport{ResponseHeaderTimeout: 100 * time.Millisecond})
	_, err := fetch(c, srv.URL+"/v1")
	wantTimeout(t, err, "timeout awaiting response headers")
}

// connectProxy is an HTTP CONNECT proxy on 127.0.0.1 that records the
// targets it was asked for and tunnels every one of them to dst.
type connectProxy struct {
	*httptest.Server
	mu      sync.Mutex
	targets []string
}

func newConnectProxy(t *testing.T, dst string) *connectProxy {
	t.Helper()
	p := &connectProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		p.mu.Lock()
		p.targets = append(p.targets, r.Host)
		p.mu.Unlock()
		up, err := net.Dial("tcp", dst)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer up.Close()
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
			return
		}
		go io.Copy(up, brw.Reader)
		io.Copy(conn, up)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *connectProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.targets)
}

// TestEgressProxyFromEnvironment runs itself again with HTTPS_PROXY and
// NO_PROXY set (net/http reads them once per process): requests go through
// the CONNECT proxy except for the NO_PROXY host, which is dialed directly,
// and a destination the policy forbids is refused before the proxy is asked.
func TestEgressProxyFromEnvironment(t *testing.T) {
	if os.Getenv("NETGUARD_PROXY_CHILD") == "1" {
		proxyChild(t)
		return
	}
	t.Parallel()
	srv, hits := tlsUpstream(t, false)
	proxy := newConnectProxy(t, srv.Listener.Addr().String())
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	cmd := exec.Command(os.Args[0], "-test.run=^TestEgressProxyFromEnvironment$", "-test.v")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"NETGUARD_PROXY_CHILD=1", "NETGUARD_CERT=" + certFile, "NETGUARD_PORT=" + port,
		"HTTPS_PROXY=" + proxy.URL, "NO_PROXY=direct.test",
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if got, want := proxy.seen(), []string{"proxied.test:" + port}; !slices.Equal(got, want) {
		t.Errorf("proxy was asked for %v, want %v (NO_PROXY host direct, forbidden host never)", got, want)
	}
	if n := hits.get(); n != 2 {
		t.Errorf("upstream hits = %d, want 2 (one through the proxy, one direct)", n)
	}
}

func proxyChild(t *testing.T) {
	pemBytes, err := os.ReadFile(os.Getenv("NETGUARD_CERT"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	base := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"}}
	r := fakeResolver{"proxied.test": {"127.0.0.1"}, "direct.test": {"127.0.0.1"}, "meta.test": {"169.254.169.254"}}
	c := mustPolicy(t, "127.0.0.0/8", r).Client(base)
	port := os.Getenv("NETGUARD_PORT")
	for _, host := range []string{"proxied.test", "direct.test"} {
		if _, err := fetch(c, "https://"+host+":"+port+"/v1"); err != nil {
			t.Fatalf("%s: %v", host, err)
		}
	}
	_, err = fetch(c, "https://meta.test:"+port+"/v1")
	wantBlocked(t, err)
}

func TestProxyChoiceIsGuarded(t *testing.T) {
	t.Parallel()
	srv, hits := tlsUpstream(t, false)
	proxy := newConnectProxy(t, srv.Listener.Addr().String())
	proxyURL, _ := url.Parse(proxy.URL)
	r := fakeResolver{"up.test": {"93.184.215.14"}, "meta.test": {"169.254.169.254"}, "mixed.test": {"93.184.215.14", "10.1.1.1"}}
	// The proxy sits on 127.0.0.1, which this policy does not allow: the
	// operator chose it, so it is dialed; destinations are still judged (the
	// proxy tunnels every target to the test server).
	p := mustPolicy(t, "", r).WithProxy(http.ProxyURL(proxyURL))
	c := p.Client(trusting(srv))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	if _, err := fetch(c, "https://up.test:"+port+"/v1"); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"meta.test", "mixed.test", "169.254.169.254", "localhost"} {
		_, err := fetch(c, "https://"+host+":"+port+"/v1")
		wantBlocked(t, err)
	}
	if got := proxy.seen(); !slices.Equal(got, []string{"up.test:" + port}) {
		t.Errorf("proxy was asked for %v, want only up.test", got)
	}
	if n := hits.get(); n != 1 {
		t.Errorf("upstream hits = %d, want 1", n)
	}
}
