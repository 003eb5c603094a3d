package controller

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
)

// TestReconcile plays a restart after a crash: records in flight without a process become failed
// and lose their resources, a half-deleted record goes, orphans of unrecorded VMs (files,
// namespaces, leases, processes) are removed, and stopped VMs keep theirs. A VM the driver still
// runs is untouched.
func TestReconcile(t *testing.T) {
	e := newEnv(t, vm.NetTAP, nil)
	ctx := t.Context()
	u := e.user(polydev.TierEnterprise)

	survivor, err := e.c.Create(ctx, u, polydev.VMBrowser) // the driver runs it throughout
	if err != nil {
		t.Fatal(err)
	}
	stopped, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	if stopped, err = e.c.Stop(ctx, u, stopped.ID); err != nil {
		t.Fatal(err)
	}
	crashed, err := e.c.Create(ctx, u, polydev.VMCLI)
	if err != nil {
		t.Fatal(err)
	}
	deleting, err := e.c.Create(ctx, u, polydev.VMCLI)
	if err != nil {
		t.Fatal(err)
	}
	// The crash: the driver loses crashed's and deleting's machines (files, lease and namespace stay),
	// deleting was half-way through Delete, and an unrecorded VM left everything behind.
	for _, id := range []string{crashed.ID, deleting.ID} {
		e.d.mu.Lock()
		e.d.halt(e.d.vms[id])
		delete(e.d.vms, id)
		e.d.mu.Unlock()
	}
	if err := e.db.SetVMState(ctx, deleting.ID, polydev.VMRunning, polydev.VMDeleted, time.Now()); err != nil {
		t.Fatal(err)
	}
	ghost := polydev.NewID()
	gn := vm.Names(ghost)
	for _, f := range []string{filepath.Join(e.cfg.RunDir, gn.Socket), filepath.Join(e.cfg.VMDir, gn.Overlay), filepath.Join(e.cfg.VMDir, "not-ours.txt")} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.n.add(gn.Netns)
	e.n.add("pdnet-unrelated")
	if _, err := e.pool.Allocate(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	e.procs.procs[101] = gn.Key
	e.procs.procs[102] = vm.Names(crashed.ID).Key
	e.procs.procs[103] = vm.Names(survivor.ID).Key
	e.procs.procs[104] = vm.Names(stopped.ID).Key // a stopped VM has no business running

	if err := e.c.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}

	if got := e.record(crashed.ID); got.State != polydev.VMFailed || got.IP != nil {
		t.Fatalf("crashed record %+v", got)
	}
	e.assertNothingHeld(crashed.ID)
	if e.record(deleting.ID) != nil {
		t.Fatal("half-deleted record survived")
	}
	e.assertNothingHeld(deleting.ID)
	e.assertNothingHeld(ghost)
	if _, err := os.Stat(filepath.Join(e.cfg.VMDir, "not-ours.txt")); err != nil {
		t.Fatalf("a file Polydev did not name was touched: %v", err)
	}
	if !e.n.has("pdnet-unrelated") {
		t.Fatal("a namespace vm.Names did not make was removed")
	}
	if got := e.procs.procs; len(got) != 1 || got[103] == "" {
		t.Fatalf("processes left %v, want only the survivor's", got)
	}

	// Survivors: the running VM keeps everything; the stopped one keeps its lease, namespace, files.
	if got := e.record(survivor.ID); got.State != polydev.VMRunning {
		t.Fatalf("survivor record %+v", got)
	}
	if _, err := e.get(u, survivor.ID, polydev.VMPortAgent, "/health"); err != nil {
		t.Fatalf("survivor unreachable: %v", err)
	}
	for _, v := range []*polydev.VM{survivor, stopped} {
		n := vm.Names(v.ID)
		if e.leases()[*v.IP] != v.ID || !e.n.has(n.Netns) {
			t.Fatalf("VM %s lost its lease or namespace", v.ID)
		}
		if _, err := os.Stat(filepath.Join(e.cfg.VMDir, n.Overlay)); err != nil {
			t.Fatalf("VM %s lost its overlay: %v", v.ID, err)
		}
	}
	if got := e.record(stopped.ID); got.State != polydev.VMStopped {
		t.Fatalf("stopped record %+v", got)
	}
	if n := counterValue(e.c.metrics.reclaimed.WithLabelValues("process")); n != 3 {
		t.Fatalf("reclaimed processes metric = %v, want 3", n)
	}
	if n := len(e.leases()); n != 2 {
		t.Fatalf("%d leases left, want 2: %v", n, e.leases())
	}
}

// TestReconcileAfterWarmCrash: warm VMs have no record, so a successor removes all they held.
func TestReconcileAfterWarmCrash(t *testing.T) {
	e := newEnv(t, vm.NetTAP, func(c *Config) { c.WarmPool = 2 })
	if err := e.c.FillWarm(t.Context()); err != nil {
		t.Fatal(err)
	}
	warm := e.c.warmIDs()
	if len(warm) != 2 || len(e.leases()) != 2 || len(e.files()) == 0 {
		t.Fatalf("warm %v, leases %v, files %v", warm, e.leases(), e.files())
	}
	// Crash: a new process with a new driver.
	e.d.closeAll()
	e.d = newFakeDriver()
	e.n.d = e.d
	e.cfg.Driver = e.d
	c := e.newController()
	if err := c.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.c = c
	for _, id := range warm {
		e.assertNothingHeld(id)
	}
	if got := e.files(); len(got) != 0 {
		t.Fatalf("files left: %v", got)
	}
}

// counterValue reads a counter or gauge.
func counterValue(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		panic(err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}
