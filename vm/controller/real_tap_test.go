package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netns"
)

// TestRealQEMUTap boots a VM on real QEMU in tap mode: its own network namespace with the TAP, the
// veth leading out into an uplink namespace this test creates (never the host's), the guest's
// static address from the kernel command line, the agent reached through the namespace's DNAT.
// Deleting the VM removes the namespace and the lease.
func TestRealQEMUTap(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("SKIP: nft (nftables) not installed")
	}
	e := realEnvOn(t, false, vm.NetTAP)
	uplink := "pdt-" + randomHex(t, 5)
	if out, err := exec.Command("ip", "netns", "add", uplink).CombinedOutput(); err != nil {
		t.Skipf("SKIP: cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", uplink).Run() })
	if out, err := exec.Command("ip", "-n", uplink, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	n, err := netns.New(netns.Config{UplinkNetns: uplink})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Network = n
	e.c = e.newController()

	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	u := e.user(polydev.TierPro)
	began := time.Now()
	v, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		e.logTails()
		t.Fatal(err)
	}
	t.Logf("tap-mode cold create: healthy after %v, outside address %v", time.Since(began).Round(time.Millisecond), v.IP)
	if v.IP == nil || !e.pool.CIDR().Contains(*v.IP) {
		t.Fatalf("VM address %v is not from the pool %v", v.IP, e.pool.CIDR())
	}
	body, err := e.get(u, v.ID, polydev.VMPortAgent, "/health")
	if err != nil || !strings.Contains(body, `"status":"healthy"`) {
		t.Fatalf("agent through the namespace: %q, %v", body, err)
	}
	names := vm.Names(v.ID)
	if !netnsExists(t, names.Netns) {
		t.Fatalf("namespace %s missing while the VM runs", names.Netns)
	}
	if err := e.c.Delete(ctx, u, v.ID); err != nil {
		t.Fatal(err)
	}
	if netnsExists(t, names.Netns) {
		t.Errorf("namespace %s left after Delete", names.Netns)
	}
	for ip, holder := range e.leases() {
		if holder == v.ID {
			t.Errorf("lease %v left after Delete", ip)
		}
	}
	if procs, err := e.cfg.Processes.List(ctx); err != nil || len(procs) != 0 {
		t.Fatalf("processes left: %v, %v", procs, err)
	}
}

func netnsExists(t *testing.T, name string) bool {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
