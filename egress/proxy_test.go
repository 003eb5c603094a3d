package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An allowed host is reached through CONNECT; its bytes and request are counted.
func TestConnectAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	srv, p := e.tlsServer("login.test")
	s := e.open("sess-1", Rule{Host: "login.test", Ports: []uint16{p}})
	e.getHello(srv, p)
	u := s.Usage()
	if u.Requests != 1 || u.Refused != 0 || u.BytesUp == 0 || u.BytesDown == 0 {
		t.Errorf("usage = %+v", u)
	}
	mustContain(t, e.log.String(), "egress allowed")
	mustContain(t, e.log.String(), "host=login.test")
	mustContain(t, e.log.String(), "session=sess-1")
}

// A host outside the allow-list is refused with a clear proxy error and a log line, and is never
// resolved; so is an allowed host on another port, and everything before a session is bound.
func TestRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	_, p := e.tlsServer("login.test")
	e.dns.names["evil.test"] = "127.0.0.1"

	resp, c, _ := e.rawConnect("login.test:" + itoa(p))
	c.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Polydev-Egress") != "refused" {
		t.Fatalf("before Open: %d %v", resp.StatusCode, resp.Header)
	}
	mustContain(t, body(t, resp), "no login session uses this VM")

	s, err := e.p.Open(e.vmID, Policy{Session: "sess-2", Allow: []Rule{{Host: "login.test", Ports: []uint16{p}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, target := range []string{"evil.test:" + itoa(p), "login.test:443", "127.0.0.1:" + itoa(p), "sub.login.test:" + itoa(p)} {
		resp, c, _ := e.rawConnect(target)
		c.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Polydev-Egress") != "refused" {
			t.Errorf("CONNECT %s: %d", target, resp.StatusCode)
		}
		mustContain(t, body(t, resp), "is not on this session's allow-list")
	}
	if e.dns.looked("evil.test") || e.dns.looked("sub.login.test") {
		t.Error("a refused host was resolved")
	}
	if u := s.Usage(); u.Refused != 4 || u.Requests != 0 {
		t.Errorf("usage = %+v", u)
	}
	log := e.log.String()
	mustContain(t, log, "egress refused")
	mustContain(t, log, "host=evil.test")
	mustContain(t, log, "session=sess-2")

	// Plain HTTP to a refused host, and a request that is not a proxy request at all.
	resp, err = e.client(nil).Get("http://evil.test:" + itoa(p) + "/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("plain GET to a refused host: %d", resp.StatusCode)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + e.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("origin-form GET: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

// An allowed name that resolves to a forbidden address is refused without a connection: the
// guard (public addresses only here) judges the address it would dial.
func TestPrivateDestinationRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{Guard: publicOnly()})
	_, p := e.tlsServer("rebind.test")
	s, err := e.p.Open(e.vmID, Policy{Session: "s", Allow: []Rule{{Host: "rebind.test", Ports: []uint16{p}}, {Host: "127.0.0.1", Ports: []uint16{p}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, target := range []string{"rebind.test:" + itoa(p), "127.0.0.1:" + itoa(p)} {
		resp, c, _ := e.rawConnect(target)
		c.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("CONNECT %s: %d", target, resp.StatusCode)
		}
		mustContain(t, body(t, resp), "destination")
	}
}

// Past the byte limit the tunnel is cut and later requests are refused with the reason.
func TestByteLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	srv, p := e.tlsServer("login.test")
	s, err := e.p.Open(e.vmID, Policy{Session: "s", MaxBytes: 64 << 10, Allow: []Rule{{Host: "login.test", Ports: []uint16{p}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := e.client(srv).Get("https://login.test:" + itoa(p) + "/big")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a 1 MiB download passed a 64 KiB limit")
	}
	if u := s.Usage(); u.BytesDown+u.BytesUp > 2<<20 {
		t.Errorf("usage after the cut = %+v", u)
	}
	waitFor(t, func() bool { return s.refusalReason() != "" })
	resp2, c, _ := e.rawConnect("login.test:" + itoa(p))
	c.Close()
	if resp2.StatusCode != http.StatusForbidden {
		t.Fatalf("after the limit: %d", resp2.StatusCode)
	}
	mustContain(t, body(t, resp2), "byte limit")
}

// Past the time limit open tunnels are cut and later requests refused.
func TestTimeLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	_, p := e.tlsServer("login.test")
	s, err := e.p.Open(e.vmID, Policy{Session: "s", MaxDuration: 200 * time.Millisecond, Allow: []Rule{{Host: "login.test", Ports: []uint16{p}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, c, br := e.rawConnect("login.test:" + itoa(p))
	defer c.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	// The tunnel stays open (the server waits for a ClientHello) until the limit cuts it.
	if _, err := io.Copy(io.Discard, br); err != nil && !isClosed(err) {
		t.Fatal(err)
	}
	resp2, c2, _ := e.rawConnect("login.test:" + itoa(p))
	c2.Close()
	if resp2.StatusCode != http.StatusForbidden {
		t.Fatalf("after the limit: %d", resp2.StatusCode)
	}
	mustContain(t, body(t, resp2), "time limit")
	mustContain(t, e.log.String(), "egress session limit")
}

// Close cuts the session's tunnels at once and the VM refuses everything again; the VM can then
// serve another session, and a second Open while one is bound fails.
func TestSessionClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	_, p := e.tlsServer("login.test")
	pol := Policy{Session: "a", Allow: []Rule{{Host: "login.test", Ports: []uint16{p}}}}
	s, err := e.p.Open(e.vmID, pol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Open(e.vmID, pol); !errors.Is(err, ErrBound) {
		t.Errorf("second Open: %v, want ErrBound", err)
	}
	if _, err := e.p.Open("other-vm", pol); !errors.Is(err, ErrNoVM) {
		t.Errorf("Open of an unknown VM: %v, want ErrNoVM", err)
	}
	resp, c, br := e.rawConnect("login.test:" + itoa(p))
	defer c.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	s.Close()
	s.Close() // idempotent
	if _, err := io.Copy(io.Discard, br); err != nil && !isClosed(err) {
		t.Fatal(err)
	}
	resp2, c2, _ := e.rawConnect("login.test:" + itoa(p))
	c2.Close()
	if resp2.StatusCode != http.StatusForbidden {
		t.Fatalf("after Close: %d", resp2.StatusCode)
	}
	s2, err := e.p.Open(e.vmID, Policy{Session: "b", Allow: pol.Allow})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
	mustContain(t, e.log.String(), "egress session closed")
}

// Plain-HTTP requests are forwarded to allowed hosts.
func TestPlainHTTPForward(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	srv := httpServer(t, e, "plain.test")
	s, err := e.p.Open(e.vmID, Policy{Session: "s", Allow: []Rule{{Host: "plain.test", Ports: []uint16{port(t, srv.Listener.Addr())}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := e.client(nil).Get("http://plain.test:" + itoa(port(t, srv.Listener.Addr())) + "/path?q=1")
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); got != "plain /path?q=1 host=plain.test:"+itoa(port(t, srv.Listener.Addr())) {
		t.Errorf("body = %q", got)
	}
}

// CloseVM ends the session and closes the listener.
func TestCloseVM(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	// A unix socket of its own: a loopback port freed by CloseVM could be taken at once by another
	// test's listener.
	sock := filepath.Join(t.TempDir(), "vm.egress")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.p.Serve("vm-close", ln); err != nil {
		t.Fatal(err)
	}
	if err := e.p.Serve("vm-close", ln); !errors.Is(err, ErrServing) {
		t.Errorf("second Serve: %v, want ErrServing", err)
	}
	s, err := e.p.Open("vm-close", Policy{Session: "s", Allow: []Rule{{Host: "login.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	e.p.CloseVM("vm-close")
	e.p.CloseVM("vm-close") // idempotent
	if s.refusalReason() != "session closed" {
		t.Errorf("session after CloseVM: %q", s.refusalReason())
	}
	if _, err := e.p.Open("vm-close", Policy{Session: "t"}); !errors.Is(err, ErrNoVM) {
		t.Errorf("Open after CloseVM: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	if c, err := d.DialContext(ctx, "unix", sock); err == nil {
		c.Close()
		t.Error("the listener still accepts after CloseVM")
	}
}

func isClosed(err error) bool {
	return err == nil || strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "closed")
}
