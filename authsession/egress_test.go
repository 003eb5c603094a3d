package authsession

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/netguard"
)

// connect asks the proxy at addr for a tunnel to target and returns the status.
func connect(t *testing.T, addr, target string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode
}

// TestProxyEgress binds sessions to a real egress.Proxy: a target URL session reaches exactly its
// URL's host and port, nothing else, and nothing once closed; a VM without a listener runs without
// egress; a VM takes one session at a time.
func TestProxyEgress(t *testing.T) {
	t.Parallel()
	site := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(site.Close)
	other := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(other.Close)
	guard, err := netguard.ParseAllowList("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	p, err := egress.New(egress.Config{Guard: guard})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	vmID := polydev.NewID()
	if err := p.Serve(vmID, ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.CloseVM(vmID) })
	target := strings.TrimPrefix(site.URL, "https://")

	a := &polydev.AuthSession{ID: polydev.NewID(), TargetURL: site.URL + "/login/oauth/authorize?x=1"}
	c, err := ProxyEgress{Proxy: p}.Open(vmID, a)
	if err != nil || c == nil {
		t.Fatalf("Open = %v, %v", c, err)
	}
	if got := connect(t, ln.Addr().String(), target); got != http.StatusOK {
		t.Fatalf("CONNECT to the session's target: %d", got)
	}
	if got := connect(t, ln.Addr().String(), strings.TrimPrefix(other.URL, "https://")); got != http.StatusForbidden {
		t.Fatalf("CONNECT to another host: %d, want 403", got)
	}
	if _, err := (ProxyEgress{Proxy: p}).Open(vmID, &polydev.AuthSession{ID: polydev.NewID(), Provider: polydev.CLIClaudeCode}); err == nil {
		t.Fatal("a second session bound to the same VM")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := connect(t, ln.Addr().String(), target); got != http.StatusForbidden {
		t.Fatalf("CONNECT after the session closed: %d, want 403", got)
	}
	// A provider session on the freed VM; a VM without a listener gives no egress and no error.
	if c, err := (ProxyEgress{Proxy: p}).Open(vmID, &polydev.AuthSession{ID: polydev.NewID(), Provider: polydev.CLIGemini}); err != nil || c == nil {
		t.Fatalf("provider session: %v, %v", c, err)
	}
	if c, err := (ProxyEgress{Proxy: p}).Open(polydev.NewID(), a); err != nil || c != nil {
		t.Fatalf("VM without egress: %v, %v; want nil, nil", c, err)
	}
}
