package controller

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/vm"
)

// TestCreateFailures: every way a create can fail leaves a failed record and nothing else: no
// driver VM, no ports, no lease, no namespace, no file.
func TestCreateFailures(t *testing.T) {
	boom := errors.New("boom")
	failOn := func(method string) func(*env) {
		return func(e *env) {
			e.d.hook = func(m, id string) error {
				if m == method {
					return boom
				}
				return nil
			}
		}
	}
	tests := []struct {
		name  string
		modes []vm.NetMode
		setup func(e *env)
		code  string
	}{
		{"driver create", []vm.NetMode{vm.NetUser, vm.NetTAP}, failOn("Create"), polydev.EUNAVAILABLE},
		{"driver start", []vm.NetMode{vm.NetUser, vm.NetTAP}, failOn("Start"), polydev.EUNAVAILABLE},
		{"never healthy", []vm.NetMode{vm.NetUser, vm.NetTAP}, func(e *env) { e.d.health = "starting" }, polydev.EUNAVAILABLE},
		{"network setup", []vm.NetMode{vm.NetTAP}, func(e *env) { e.n.failSetup = boom }, polydev.EUNAVAILABLE},
		{"pool exhausted", []vm.NetMode{vm.NetTAP}, func(e *env) {
			for i := range e.pool.Size() {
				s, _ := e.pool.Slot(i)
				if _, err := e.pool.Allocate(e.t.Context(), fmt.Sprintf("other-%d", i)); err != nil || !s.IP.IsValid() {
					e.t.Fatal(err)
				}
			}
		}, polydev.EUNAVAILABLE},
	}
	for _, tc := range tests {
		for _, mode := range tc.modes {
			t.Run(tc.name+"/"+string(mode), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, mode, func(c *Config) { c.HealthTimeout = 200 * time.Millisecond })
				tc.setup(e)
				u := e.user(polydev.TierPro)
				_, err := e.c.Create(t.Context(), u, polydev.VMBrowser)
				mustCode(t, err, tc.code)
				if polydev.ErrorMessage(err) == "Internal error." {
					t.Fatalf("message %q", polydev.ErrorMessage(err))
				}
				vms, _ := e.db.ListVMs(t.Context(), u.ID)
				if len(vms) != 1 || vms[0].State != polydev.VMFailed || vms[0].IP != nil {
					t.Fatalf("records after a failed create: %+v", vms)
				}
				e.assertFailedReleased(u, vms[0].ID)
				if got := e.files(); len(got) != 0 {
					t.Fatalf("files left: %v", got)
				}
			})
		}
	}
}

// TestCreateCancelled: a caller that gives up mid-boot still gets everything cleaned up.
func TestCreateCancelled(t *testing.T) {
	e := newEnv(t, vm.NetTAP, nil)
	ctx, cancel := context.WithCancel(t.Context())
	e.d.hook = func(m, id string) error {
		if m == "Start" {
			cancel()
			return context.Canceled
		}
		return nil
	}
	u := e.user(polydev.TierPro)
	_, err := e.c.Create(ctx, u, polydev.VMBrowser)
	mustCode(t, err, polydev.EUNAVAILABLE)
	vms, _ := e.db.ListVMs(t.Context(), u.ID)
	if len(vms) != 1 || vms[0].State != polydev.VMFailed {
		t.Fatalf("records: %+v", vms)
	}
	e.assertFailedReleased(u, vms[0].ID)
}

// TestStartStopFailures: a driver failure on Start or Stop records failed and releases everything.
func TestStartStopFailures(t *testing.T) {
	for _, method := range []string{"Start", "Stop"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, vm.NetTAP, nil)
			ctx := t.Context()
			u := e.user(polydev.TierPro)
			v, err := e.c.Create(ctx, u, polydev.VMBrowser)
			if err != nil {
				t.Fatal(err)
			}
			if method == "Start" {
				if _, err := e.c.Stop(ctx, u, v.ID); err != nil {
					t.Fatal(err)
				}
			}
			e.d.hook = func(m, id string) error {
				if m == method {
					return errors.New("boom")
				}
				return nil
			}
			if method == "Start" {
				_, err = e.c.Start(ctx, u, v.ID)
			} else {
				_, err = e.c.Stop(ctx, u, v.ID)
			}
			mustCode(t, err, polydev.EUNAVAILABLE)
			if got := e.record(v.ID); got.State != polydev.VMFailed || got.IP != nil {
				t.Fatalf("record %+v", got)
			}
			_, err = e.c.Start(ctx, u, v.ID)
			mustCode(t, err, polydev.ECONFLICT)
			e.d.hook = nil
			e.assertFailedReleased(u, v.ID)
			if e.record(v.ID) != nil {
				t.Fatal("record survived Delete")
			}
		})
	}
}

// TestStateRaces: operations on a VM in flight are ECONFLICT, not done twice.
func TestStateRaces(t *testing.T) {
	e := newEnv(t, vm.NetUser, nil)
	ctx := t.Context()
	u := e.user(polydev.TierPro)
	v, err := e.c.Create(ctx, u, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.SetVMState(ctx, v.ID, polydev.VMRunning, polydev.VMStopping, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Start(ctx, u, v.ID)
	mustCode(t, err, polydev.ECONFLICT)
	_, err = e.c.Stop(ctx, u, v.ID)
	mustCode(t, err, polydev.ECONFLICT)
	mustCode(t, e.c.Delete(ctx, u, v.ID), polydev.ECONFLICT)
	_, err = e.c.Dial(ctx, u, v.ID, polydev.VMPortAgent)
	mustCode(t, err, polydev.ECONFLICT)
	if _, ok := e.d.get(v.ID); !ok {
		t.Fatal("a refused operation touched the driver VM")
	}
}
