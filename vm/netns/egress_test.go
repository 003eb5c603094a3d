package netns

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/netguard"
)

// With the egress proxy configured and the outside denied, the guest's only way out is the
// proxy's address in its namespace: there it reaches what its session allows (a loopback server
// of the test's own namespace, standing for the internet) and nothing else, and it reaches no
// other address or port at all.
func TestEgressOnlyThroughProxy(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, Config{Egress: egress.GuestAddr, DenyEgress: true})
	ctx := context.Background()
	id := e.vmID()
	_, guest := e.setupGuest(ctx, id)

	// "The internet": a server in the uplink (where NAT would have taken the guest without the
	// proxy), with forwarding on, and the destination the session allows, on loopback here.
	e.internet()
	serve(t, e.uplink, netip.AddrPortFrom(publicAddr, 8080).String(), "public")
	serve(t, e.uplink, netip.AddrPortFrom(poolGateway, 3128).String(), "host-service")
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "allowed destination")
	}))
	defer allowed.Close()
	dest := netip.MustParseAddrPort(allowed.Listener.Addr().String())

	ln, err := e.m.Listen(ctx, id, egress.GuestAddr)
	if err != nil {
		t.Fatal(err)
	}
	guard, err := netguard.ParseAllowList("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	p, err := egress.New(egress.Config{Guard: guard})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Serve(id, ln); err != nil {
		t.Fatal(err)
	}
	defer p.CloseVM(id)
	s, err := p.Open(id, egress.Policy{Session: "sess", Allow: []egress.Rule{{Host: "127.0.0.1", Ports: []uint16{dest.Port()}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	t.Run("allowed destination through the proxy", func(t *testing.T) {
		status, body, err := proxyGet(ctx, guest, "http://"+dest.String()+"/")
		if err != nil || status != http.StatusOK || body != "allowed destination" {
			t.Errorf("got %d %q, %v", status, body, err)
		}
	})
	t.Run("other destinations refused by the proxy", func(t *testing.T) {
		status, _, err := proxyGet(ctx, guest, "http://"+netip.AddrPortFrom(publicAddr, 8080).String()+"/")
		if err != nil || status != http.StatusForbidden {
			t.Errorf("got %d, %v; want 403", status, err)
		}
	})
	t.Run("nothing else is reachable from the guest", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for _, a := range []netip.AddrPort{
			netip.AddrPortFrom(publicAddr, 8080),                              // the outside, directly
			netip.AddrPortFrom(poolGateway, 3128),                             // the host
			netip.AddrPortFrom(DefaultGuestGateway, egress.GuestAddr.Port()),  // the proxy's port elsewhere
			netip.AddrPortFrom(egress.GuestAddr.Addr(), 22),                   // another port of its address
			netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dest.Port()), // the guest's own loopback
		} {
			if got, err := dialFrom(ctx, guest, a); err == nil {
				t.Errorf("guest reached %v: %q", a, got)
			}
		}
	})
	if u := s.Usage(); u.Requests != 1 || u.Refused != 1 {
		t.Errorf("usage = %+v", u)
	}
}

// proxyGet sends one absolute-form GET to the proxy at egress.GuestAddr from inside namespace ns.
func proxyGet(ctx context.Context, ns, url string) (int, string, error) {
	var conn net.Conn
	err := inNetns(ns, func() error {
		var err error
		conn, err = (&net.Dialer{Timeout: 10 * time.Second}).DialContext(ctx, "tcp", egress.GuestAddr.String())
		return err
	})
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", url)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, b.String(), err
}
