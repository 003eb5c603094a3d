package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// upstream is an httptest server on 127.0.0.1 that counts its requests, so a
// test can prove a refused request never arrived.
func upstream(t *testing.T) (srv *httptest.Server, hits *atomic.Int32) {
	t.Helper()
	hits = new(atomic.Int32)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "http://"+r.Host+"/final?token=sekrit", http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.Listener.Addr().String(), "127.0.0.1:") {
		t.Skipf("httptest listens on %s, not 127.0.0.1", srv.Listener.Addr())
	}
	return srv, hits
}

func get(t *testing.T, p *Policy, rawURL string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := p.Client(nil)
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", rawURL, resp.Status)
	}
	return nil
}

func wantBlocked(t *testing.T, err error) *BlockedError {
	t.Helper()
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want *BlockedError", err)
	}
	return be
}

func TestTransportRefusesLoopbackUnlessAllowed(t *testing.T) {
	t.Parallel()
	srv, hits := upstream(t)

	be := wantBlocked(t, get(t, mustPolicy(t, "", failResolver{t}), srv.URL))
	if be.Addr.String() != "127.0.0.1" {
		t.Errorf("blocked %v, want 127.0.0.1", be.Addr)
	}
	wantBlocked(t, get(t, mustPolicy(t, "10.0.0.0/8", failResolver{t}), srv.URL))
	if n := hits.Load(); n != 0 {
		t.Fatalf("refused requests reached the server %d times", n)
	}

	if err := get(t, mustPolicy(t, "127.0.0.0/8", failResolver{t}), srv.URL); err != nil {
		t.Fatalf("allow-listed GET: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("server hits = %d, want 1", n)
	}
}

func TestTransportBlocksDNSRebinding(t *testing.T) {
	t.Parallel()
	srv, hits := upstream(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	r := &rebindingResolver{answers: [][]string{{"93.184.215.14"}, {"127.0.0.1"}}}
	p := mustPolicy(t, "", r)

	// Save time sees the public answer...
	if _, err := p.CheckURL("https://rebind.example:" + port + "/v1"); err != nil {
		t.Fatalf("save-time check: %v", err)
	}
	// ...connect time sees 127.0.0.1 and refuses before any packet is sent.
	// (http here only because the test server speaks http; the dialer does
	// not know the scheme.)
	be := wantBlocked(t, get(t, p, "http://rebind.example:"+port+"/v1"))
	if be.Addr.String() != "127.0.0.1" || be.Dest != "rebind.example" {
		t.Errorf("blocked %q (%v), want rebind.example (127.0.0.1)", be.Dest, be.Addr)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("rebound request reached the server %d times", n)
	}
}

func TestDialContextSkipsForbiddenAddresses(t *testing.T) {
	t.Parallel()
	srv, hits := upstream(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	r := fakeResolver{
		"dual.test":    {"10.9.9.9", "169.254.169.254", "127.0.0.1"},
		"nothing.test": {"10.9.9.9", "::1"},
	}
	p := mustPolicy(t, "127.0.0.0/8", r)
	if err := get(t, p, "http://dual.test:"+port+"/"); err != nil {
		t.Fatalf("GET via the one permitted address: %v", err)
	}
	wantBlocked(t, get(t, p, "http://nothing.test:"+port+"/"))
	if n := hits.Load(); n != 1 {
		t.Fatalf("server hits = %d, want 1", n)
	}
}

func TestDialContextRefusesReservedNamesWithoutDNS(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "", failResolver{t})
	for _, addr := range []string{"localhost:80", "x.localhost:80", "metadata.google.internal:80"} {
		conn, err := p.DialContext(t.Context(), "tcp", addr)
		if conn != nil {
			conn.Close()
		}
		wantBlocked(t, err)
	}
}

func TestDialContextRefusesOddInput(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "all", failResolver{t})
	for _, tt := range []struct{ network, addr string }{
		{"unix", "/var/run/docker.sock"},
		{"udp", "127.0.0.1:53"},
		{"tcp", "no-port"},
		{"tcp", "1.2.3.4.5:80"},
		{"tcp", "exa$mple:80"},
	} {
		conn, err := p.DialContext(t.Context(), tt.network, tt.addr)
		if conn != nil {
			conn.Close()
		}
		if err == nil {
			t.Errorf("DialContext(%q, %q) succeeded", tt.network, tt.addr)
		}
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	none := mustPolicy(t, "", nil)
	loop := mustPolicy(t, "127.0.0.0/8,::1", nil)
	tests := []struct {
		network, addr  string
		noneOK, loopOK bool
	}{
		{"tcp4", "127.0.0.1:80", false, true},
		{"tcp6", "[::1]:80", false, true},
		{"tcp6", "[::ffff:127.0.0.1]:80", false, true},
		{"tcp6", "[::1%lo]:80", false, true},
		{"tcp4", "10.0.0.1:443", false, false},
		{"tcp4", "169.254.169.254:80", false, false},
		{"tcp6", "[fe80::1%eth0]:80", false, false},
		{"tcp6", "[64:ff9b::a9fe:a9fe]:80", false, false},
		{"tcp4", "93.184.215.14:443", true, true},
		{"tcp6", "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:443", true, true},
		{"unix", "/tmp/sock", false, false},
		{"tcp", "example.com:80", false, false},
	}
	for _, tt := range tests {
		if err := none.Control(tt.network, tt.addr, nil); (err == nil) != tt.noneOK {
			t.Errorf("empty policy Control(%s, %s) = %v, want ok=%v", tt.network, tt.addr, err, tt.noneOK)
		}
		if err := loop.Control(tt.network, tt.addr, nil); (err == nil) != tt.loopOK {
			t.Errorf("loopback policy Control(%s, %s) = %v, want ok=%v", tt.network, tt.addr, err, tt.loopOK)
		}
	}
}

func TestControlAsNetDialerHook(t *testing.T) {
	t.Parallel()
	srv, _ := upstream(t)
	d := net.Dialer{Timeout: 5 * time.Second, Control: mustPolicy(t, "", nil).Control}
	conn, err := d.DialContext(t.Context(), "tcp", srv.Listener.Addr().String())
	if conn != nil {
		conn.Close()
	}
	wantBlocked(t, err)

	d.Control = mustPolicy(t, "127.0.0.1", nil).Control
	conn, err = d.DialContext(t.Context(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("allow-listed dial: %v", err)
	}
	conn.Close()
}

func TestRedirectsAreRefused(t *testing.T) {
	t.Parallel()
	srv, hits := upstream(t)
	err := get(t, mustPolicy(t, "127.0.0.0/8", nil), srv.URL+"/redirect")
	be := wantBlocked(t, err)
	// Only our part is checked: net/http's *url.Error wrapper quotes the
	// request URL itself, which is the caller's to redact.
	if !strings.Contains(be.Error(), "redirect") || strings.Contains(be.Error(), "sekrit") {
		t.Errorf("redirect error %q: want a mention of the redirect and no query", be)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("server hits = %d, want 1 (the redirect target must not be fetched)", n)
	}
}

func TestTransportDropsCustomDialers(t *testing.T) {
	t.Parallel()
	tlsDial := func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("unused") }
	base := &http.Transport{DialTLSContext: tlsDial, MaxIdleConns: 7}
	tr := mustPolicy(t, "", nil).Transport(base)
	if tr.DialTLSContext != nil || tr.DialContext == nil || tr.Proxy == nil || !tr.ForceAttemptHTTP2 {
		t.Error("guarded transport kept a custom dialer, or lacks the guarded dialer, proxy choice or HTTP/2")
	}
	if tr.MaxIdleConns != 7 {
		t.Error("guarded transport lost base settings")
	}
	if base.DialTLSContext == nil || base.DialContext != nil || base.Proxy != nil {
		t.Error("Transport modified its base")
	}
	if def := mustPolicy(t, "", nil).Transport(nil); def.DialContext == nil || def.TLSHandshakeTimeout == 0 {
		t.Error("guarded default transport uses the stock dialer or has no TLS handshake timeout")
	}
}
