package controller

import (
	"strings"
	"sync"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
)

func TestLifecycle(t *testing.T) {
	for _, mode := range []vm.NetMode{vm.NetUser, vm.NetTAP} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, mode, nil)
			ctx := t.Context()
			u, other := e.user(polydev.TierPro), e.user(polydev.TierPro)

			v, err := e.c.Create(ctx, u, polydev.VMBrowser)
			if err != nil {
				t.Fatal(err)
			}
			if v.State != polydev.VMRunning || v.UserID != u.ID || v.Driver != "fake" || v.StartedAt == nil {
				t.Fatalf("created %+v", v)
			}
			if (v.IP != nil) != (mode == vm.NetTAP) {
				t.Fatalf("ip = %v in %s mode", v.IP, mode)
			}
			if mode == vm.NetTAP && e.leases()[*v.IP] != v.ID {
				t.Fatalf("leases %v do not hold %v for %s", e.leases(), v.IP, v.ID)
			}
			body, err := e.get(u, v.ID, polydev.VMPortAgent, "/health")
			if err != nil || !strings.Contains(body, `"healthy"`) {
				t.Fatalf("dial agent: %q, %v", body, err)
			}
			if body, err := e.get(u, v.ID, polydev.VMPortNoVNC, "/vnc.html"); err != nil || !strings.Contains(body, "port 6080") {
				t.Fatalf("dial noVNC: %q, %v", body, err)
			}
			_, err = e.c.Dial(ctx, u, v.ID, 22)
			mustCode(t, err, polydev.EINVALID)

			// Another user's id is not found, for every operation.
			_, err = e.c.Start(ctx, other, v.ID)
			mustCode(t, err, polydev.ENOTFOUND)
			_, err = e.c.Stop(ctx, other, v.ID)
			mustCode(t, err, polydev.ENOTFOUND)
			mustCode(t, e.c.Delete(ctx, other, v.ID), polydev.ENOTFOUND)
			_, err = e.c.Dial(ctx, other, v.ID, polydev.VMPortAgent)
			mustCode(t, err, polydev.ENOTFOUND)
			_, err = e.c.Stop(ctx, u, "../etc")
			mustCode(t, err, polydev.ENOTFOUND)

			stopped, err := e.c.Stop(ctx, u, v.ID)
			if err != nil || stopped.State != polydev.VMStopped || stopped.StoppedAt == nil {
				t.Fatalf("Stop = %+v, %v", stopped, err)
			}
			if again, err := e.c.Stop(ctx, u, v.ID); err != nil || again.State != polydev.VMStopped {
				t.Fatalf("second Stop = %+v, %v", again, err)
			}
			_, err = e.c.Dial(ctx, u, v.ID, polydev.VMPortAgent)
			mustCode(t, err, polydev.ECONFLICT)
			if st, _ := e.d.State(ctx, v.ID); st != vm.StateStopped {
				t.Fatalf("driver state %s after Stop", st)
			}

			started, err := e.c.Start(ctx, u, v.ID)
			if err != nil || started.State != polydev.VMRunning {
				t.Fatalf("Start = %+v, %v", started, err)
			}
			if _, err := e.get(u, v.ID, polydev.VMPortAgent, "/health"); err != nil {
				t.Fatalf("dial after restart: %v", err)
			}

			if err := e.c.Delete(ctx, u, v.ID); err != nil {
				t.Fatal(err)
			}
			if e.record(v.ID) != nil {
				t.Fatal("record survived Delete")
			}
			e.assertNothingHeld(v.ID)
			mustCode(t, e.c.Delete(ctx, u, v.ID), polydev.ENOTFOUND)
		})
	}
}

// TestStartAfterRestart: a stopped VM the (new) driver does not know boots afresh on a new network.
func TestStartAfterRestart(t *testing.T) {
	e := newEnv(t, vm.NetTAP, nil)
	ctx := t.Context()
	u := e.user(polydev.TierPro)
	v, err := e.c.Create(ctx, u, polydev.VMCLI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Stop(ctx, u, v.ID); err != nil {
		t.Fatal(err)
	}
	e.d.closeAll()
	e.d = newFakeDriver()
	e.n.d = e.d
	e.cfg.Driver = e.d
	e.c = e.newController()
	if err := e.c.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.record(v.ID); got.State != polydev.VMStopped || e.leases()[*v.IP] != v.ID {
		t.Fatalf("after reconcile: %+v, leases %v", got, e.leases())
	}
	got, err := e.c.Start(ctx, u, v.ID)
	if err != nil || got.State != polydev.VMRunning || got.IP == nil {
		t.Fatalf("Start = %+v, %v", got, err)
	}
	if _, err := e.get(u, v.ID, polydev.VMPortAgent, "/health"); err != nil {
		t.Fatal(err)
	}
}

// TestMaxVMsConcurrent: of 20 parallel creates with room for 3, exactly 3 succeed and the rest are
// refused with EFORBIDDEN; failed VMs do not count.
func TestMaxVMsConcurrent(t *testing.T) {
	for _, mode := range []vm.NetMode{vm.NetUser, vm.NetTAP} {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, mode, nil)
			u := e.user(polydev.TierPro) // MaxVMs 3 by the seed
			var wg sync.WaitGroup
			errs := make([]error, 20)
			for i := range errs {
				wg.Go(func() { _, errs[i] = e.c.Create(t.Context(), u, polydev.VMBrowser) })
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch polydev.ErrorCode(err) {
				case "":
					ok++
				case polydev.EFORBIDDEN:
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
			vms, _ := e.db.ListVMs(t.Context(), u.ID)
			if ok != 3 || len(vms) != 3 || len(e.d.ids()) != 3 {
				t.Fatalf("%d creates succeeded, %d records, %d driver VMs; want 3", ok, len(vms), len(e.d.ids()))
			}
			free := e.user(polydev.TierFree)
			_, err := e.c.Create(t.Context(), free, polydev.VMBrowser)
			mustCode(t, err, polydev.EFORBIDDEN)
			_, err = e.c.Create(t.Context(), u, "desktop")
			mustCode(t, err, polydev.EINVALID)
		})
	}
}

func TestFailedVMsDoNotCount(t *testing.T) {
	e := newEnv(t, vm.NetUser, nil)
	u := e.user(polydev.TierPlus) // MaxVMs 1
	e.d.hook = func(method, id string) error {
		if method == "Start" {
			return vm.ErrInvalidState
		}
		return nil
	}
	_, err := e.c.Create(t.Context(), u, polydev.VMBrowser)
	mustCode(t, err, polydev.EUNAVAILABLE)
	e.d.hook = nil
	if _, err := e.c.Create(t.Context(), u, polydev.VMBrowser); err != nil {
		t.Fatalf("create after a failed one: %v", err)
	}
	_, err = e.c.Create(t.Context(), u, polydev.VMBrowser)
	mustCode(t, err, polydev.EFORBIDDEN)
}
