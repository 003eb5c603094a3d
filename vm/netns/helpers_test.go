package netns

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

// requireNet skips unless the test can create namespaces and load nftables rules.
func requireNet(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("SKIP: network namespace tests need root")
	}
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("SKIP: %s not installed (Debian: apt-get install iproute2 nftables)", bin)
		}
	}
}

func randHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// mustIP runs ip with args and fails the test on error.
func mustIP(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// testNetns creates a namespace only this test uses ("pdt-<hex>", a name Polydev never makes), with
// loopback up, and removes it at cleanup.
func testNetns(t *testing.T) string {
	t.Helper()
	name := "pdt-" + randHex(t, 5)
	mustIP(t, "netns", "add", name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	mustIP(t, "-n", name, "link", "set", "lo", "up")
	return name
}

// testEnv is an uplink namespace, a Manager over it and guest stand-ins, one namespace per VM.
type testEnv struct {
	t      *testing.T
	uplink string
	m      *Manager
	pool   *netpool.Pool

	mu     sync.Mutex
	guests map[string]string // VM id → guest stand-in namespace
	ours   map[string]bool   // namespace names of the VM ids this test made
}

func newTestEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	requireNet(t)
	e := &testEnv{t: t, uplink: testNetns(t), guests: map[string]string{}, ours: map[string]bool{}}
	cfg.UplinkNetns = e.uplink
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.guestStandIn = func(vmID string) string {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.guests[vmID]
	}
	m.listed = func(name string) bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.ours[name]
	}
	e.m = m
	pool, err := netpool.New(netpool.Config{Store: &netpool.MemStore{}})
	if err != nil {
		t.Fatal(err)
	}
	e.pool = pool
	return e
}

// vmID returns a fresh VM id whose names List will report, and removes its namespace at cleanup.
func (e *testEnv) vmID() string {
	id := "test-vm-" + randHex(e.t, 8)
	ns := vm.Names(id).Netns
	e.mu.Lock()
	e.ours[ns] = true
	e.mu.Unlock()
	e.t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	return id
}

// setupGuest sets up VM id on a fresh slot with a guest stand-in namespace configured the way a guest
// configures eth0 (the same inner address for every VM), and returns the slot and the guest's
// namespace.
func (e *testEnv) setupGuest(ctx context.Context, id string) (netpool.Slot, string) {
	e.t.Helper()
	slot, err := e.pool.Allocate(ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	guest := testNetns(e.t)
	e.mu.Lock()
	e.guests[id] = guest
	e.mu.Unlock()
	netw, err := e.m.Setup(ctx, id, slot)
	if err != nil {
		e.t.Fatalf("Setup(%s): %v", id, err)
	}
	tap := netw.TAP
	mustIP(e.t, "-n", guest, "link", "set", "dev", "eth0", "address", tap.MAC.String())
	mustIP(e.t, "-n", guest, "addr", "add", netip.PrefixFrom(tap.GuestIP, tap.PrefixLen).String(), "dev", "eth0")
	mustIP(e.t, "-n", guest, "link", "set", "dev", "eth0", "up")
	mustIP(e.t, "-n", guest, "route", "add", "default", "via", tap.Gateway.String())
	return slot, guest
}

// serve starts an HTTP server listening on addr inside namespace ns; it answers with name and the
// client address it saw.
func serve(t *testing.T, ns, addr, name string) {
	t.Helper()
	var ln net.Listener
	err := inNetns(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, ns, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(w, "%s from %s", name, host)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

// get sends one HTTP request over conn and returns the body.
func get(conn net.Conn) (string, error) {
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.0\r\nHost: guest\r\n\r\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return "", err
	}
	_, body, ok := strings.Cut(string(b), "\r\n\r\n")
	if !ok {
		return "", errors.New("no HTTP response")
	}
	return body, nil
}

// dialFrom dials addr from inside namespace ns and does one GET.
func dialFrom(ctx context.Context, ns string, addr netip.AddrPort) (string, error) {
	var conn net.Conn
	err := inNetns(ns, func() error {
		var err error
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr.String())
		return err
	})
	if err != nil {
		return "", err
	}
	return get(conn)
}

// links lists the interface names in ns.
func links(t *testing.T, m *Manager, ns string) []string {
	t.Helper()
	names, err := m.linkNames(context.Background(), ns)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// netnsExists reports whether the named namespace exists.
func netnsExists(t *testing.T, m *Manager, name string) bool {
	t.Helper()
	names, err := m.netnsNames(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(names, name)
}

// internet gives the uplink publicAddr (standing for the internet) and turns forwarding on there:
// the host forwards between VMs' veths in production, and without it isolation checks would pass
// for want of a route.
func (e *testEnv) internet() {
	e.t.Helper()
	mustIP(e.t, "-n", e.uplink, "addr", "add", publicAddr.String()+"/32", "dev", "lo")
	if err := inNetns(e.uplink, func() error {
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0)
	}); err != nil {
		e.t.Fatal(err)
	}
}
