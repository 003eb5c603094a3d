package web

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// setTier moves the account with this email to tier t.
func (e *env) setTier(email string, t polydev.Tier) *polydev.User {
	e.t.Helper()
	u, err := e.store.UserByEmail(e.t.Context(), email)
	if err != nil {
		e.t.Fatal(err)
	}
	u.Tier = t
	if err := e.store.UpdateUser(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// insertVM writes a VM record straight through the store, as a controller would.
func (e *env) insertVM(userID string, typ polydev.VMType) *polydev.VM {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	v := &polydev.VM{ID: polydev.NewID(), UserID: userID, Type: typ, State: polydev.VMRunning, Driver: "qemu",
		VMResources: polydev.VMResources{VCPUs: 2, MemoryMiB: 1024}, CreatedAt: now, UpdatedAt: now, LastActivityAt: now}
	if err := e.store.CreateVM(e.t.Context(), v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

func TestVMRoutesWhenOff(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			plus := e.signup("plus@example.com", pw)
			u := e.setTier("plus@example.com", polydev.TierPlus)
			v := e.insertVM(u.ID, polydev.VMBrowser)

			for _, rt := range []struct{ method, path, body string }{
				{"POST", "/api/vms", `{"type":"browser"}`},
				{"POST", "/api/vms/" + v.ID + "/start", ""},
				{"POST", "/api/vms/" + v.ID + "/stop", ""},
				{"DELETE", "/api/vms/" + v.ID, ""},
			} {
				var body any
				if rt.body != "" {
					body = rt.body
				}
				got := e.want(e.do(rt.method, rt.path, body, "Cookie", plus), http.StatusServiceUnavailable).errorBody(t)
				if got.Code != polydev.EUNAVAILABLE || got.Type != "api_error" ||
					!strings.Contains(got.Message, "VM support is off") || !strings.Contains(got.Message, "POLYDEV_VM_DRIVER") {
					t.Fatalf("%s %s: error = %+v", rt.method, rt.path, got)
				}
			}
			// Reads still work from the store, and the record survived the refused DELETE.
			var got polydev.VM
			e.want(e.do("GET", "/api/vms/"+v.ID, nil, "Cookie", plus), http.StatusOK).json(t, &got)
			if got.ID != v.ID || got.State != polydev.VMRunning || got.Type != polydev.VMBrowser || got.IP != nil || got.MemoryMiB != 1024 {
				t.Fatalf("GET = %+v", got)
			}
			var list struct{ VMs []polydev.VM }
			e.want(e.do("GET", "/api/vms", nil, "Cookie", plus), http.StatusOK).json(t, &list)
			if len(list.VMs) != 1 || list.VMs[0].ID != v.ID {
				t.Fatalf("list = %+v", list)
			}
			e.want(e.do("POST", "/api/vms", `{"type":"browser"}`), http.StatusUnauthorized).errorBody(t)
		})
	}
}

func TestCreateVMValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	c := e.signup("pro@example.com", pw)
	e.setTier("pro@example.com", polydev.TierPro)
	for _, body := range []string{
		`{}`, `{"type":""}`, `{"type":"Browser"}`, `{"type":"browser "}`, `{"type":"gpu"}`, `{"type":1}`,
		`{"type":"cli","extra":true}`, `{"type":"cli"}{"type":"cli"}`, `[]`, ``,
	} {
		got := e.want(e.do("POST", "/api/vms", body, "Cookie", c), http.StatusBadRequest).errorBody(t)
		if got.Code != polydev.EINVALID {
			t.Fatalf("body %q: error %+v", body, got)
		}
	}
}

func TestCreateVMFreeTierForbidden(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			c := e.signup("free@example.com", pw)
			got := e.want(e.do("POST", "/api/vms", `{"type":"cli"}`, "Cookie", c), http.StatusForbidden).errorBody(t)
			if got.Code != polydev.EFORBIDDEN || !strings.Contains(got.Message, "free tier") {
				t.Fatalf("error = %+v", got)
			}
			// The same answer with a controller configured: the tier decides first.
			e.srv.vms = &stubController{store: e.store}
			e.want(e.do("POST", "/api/vms", `{"type":"cli"}`, "Cookie", c), http.StatusForbidden).errorBody(t)
		})
	}
}

func TestGetVMIsolation(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			alice := e.signup("alice@example.com", pw)
			bob := e.signup("bob@example.com", pw)
			ub, err := e.store.UserByEmail(t.Context(), "bob@example.com")
			if err != nil {
				t.Fatal(err)
			}
			vb := e.insertVM(ub.ID, polydev.VMCLI)
			e.want(e.do("GET", "/api/vms/"+vb.ID, nil, "Cookie", bob), http.StatusOK)

			other := e.want(e.do("GET", "/api/vms/"+vb.ID, nil, "Cookie", alice), http.StatusNotFound).errorBody(t)
			madeUp := e.want(e.do("GET", "/api/vms/"+polydev.NewID(), nil, "Cookie", alice), http.StatusNotFound).errorBody(t)
			if other != madeUp {
				t.Fatalf("another user's VM (%+v) answers differently from a made-up id (%+v)", other, madeUp)
			}
			for _, id := range []string{"not-an-id", strings.ToUpper(vb.ID), "%00", vb.ID + "x"} {
				e.want(e.do("GET", "/api/vms/"+id, nil, "Cookie", bob), http.StatusNotFound).errorBody(t)
			}
			var list struct{ VMs []polydev.VM }
			e.want(e.do("GET", "/api/vms", nil, "Cookie", alice), http.StatusOK).json(t, &list)
			if list.VMs == nil || len(list.VMs) != 0 {
				t.Fatalf("alice's list = %+v", list)
			}
			// With a controller on, another user's id stays a 404 for changes too.
			e.srv.vms = &stubController{store: e.store}
			for _, p := range []string{"/start", "/stop"} {
				e.want(e.do("POST", "/api/vms/"+vb.ID+p, nil, "Cookie", alice), http.StatusNotFound).errorBody(t)
			}
			e.want(e.do("DELETE", "/api/vms/"+vb.ID, nil, "Cookie", alice), http.StatusNotFound).errorBody(t)
		})
	}
}

func TestCreateVMTierCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	c := e.signup("plus@example.com", pw)
	e.setTier("plus@example.com", polydev.TierPlus) // MaxVMs 1
	e.srv.vms = &stubController{store: e.store}
	var v polydev.VM
	e.want(e.do("POST", "/api/vms", `{"type":"browser"}`, "Cookie", c), http.StatusCreated).json(t, &v)
	if v.Type != polydev.VMBrowser || v.State != polydev.VMCreated {
		t.Fatalf("created %+v", v)
	}
	got := e.want(e.do("POST", "/api/vms", `{"type":"cli"}`, "Cookie", c), http.StatusForbidden).errorBody(t)
	if !strings.Contains(got.Message, "plus tier allows at most 1") {
		t.Fatalf("error = %+v", got)
	}
	e.want(e.do("POST", "/api/vms/"+v.ID+"/start", nil, "Cookie", c), http.StatusOK)
	e.want(e.do("DELETE", "/api/vms/"+v.ID, nil, "Cookie", c), http.StatusNoContent)
	e.want(e.do("POST", "/api/vms", `{"type":"cli"}`, "Cookie", c), http.StatusCreated)
}

func TestSystemStats(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			admin := e.signup("admin@example.com", pw)
			e.makeAdmin("admin@example.com")
			au, err := e.store.UserByEmail(t.Context(), "admin@example.com")
			if err != nil {
				t.Fatal(err)
			}
			user := e.signup("user@example.com", pw)
			e.insertVM(au.ID, polydev.VMBrowser)
			e.insertVM(au.ID, polydev.VMCLI)

			got := e.want(e.do("GET", "/api/admin/system/stats", nil, "Cookie", user), http.StatusForbidden).errorBody(t)
			if got.Code != polydev.EFORBIDDEN {
				t.Fatalf("non-admin: %+v", got)
			}
			e.want(e.do("GET", "/api/admin/system/stats", nil), http.StatusUnauthorized).errorBody(t)

			var out struct {
				VMSupport bool   `json:"vmSupport"`
				Message   string `json:"message"`
				VMs       struct {
					Total   int            `json:"total"`
					ByState map[string]int `json:"byState"`
					ByType  map[string]int `json:"byType"`
				} `json:"vms"`
				IPPool struct {
					CIDR      string `json:"cidr"`
					Total     *int   `json:"total"`
					Available *int   `json:"available"`
				} `json:"ipPool"`
				Memory *struct {
					TotalBytes     uint64 `json:"totalBytes"`
					AvailableBytes uint64 `json:"availableBytes"`
				} `json:"memory"`
			}
			r := e.want(e.do("GET", "/api/admin/system/stats", nil, "Cookie", admin), http.StatusOK)
			r.json(t, &out)
			if out.VMSupport || !strings.Contains(out.Message, "VM support is off") {
				t.Fatalf("support = %v %q", out.VMSupport, out.Message)
			}
			if out.VMs.Total != 2 || out.VMs.ByState["running"] != 2 || out.VMs.ByType["browser"] != 1 || out.VMs.ByType["cli"] != 1 ||
				len(out.VMs.ByState) != len(polydev.VMStates) {
				t.Fatalf("vms = %+v", out.VMs)
			}
			if out.IPPool.Total == nil || *out.IPPool.Total != 0 || out.IPPool.Available == nil || *out.IPPool.Available != 0 {
				t.Fatalf("ipPool = %s", r.body)
			}
			if out.Memory == nil || out.Memory.TotalBytes == 0 || out.Memory.AvailableBytes > out.Memory.TotalBytes {
				t.Fatalf("memory = %s", r.body)
			}

			e.srv.vms = &stubController{store: e.store}
			r = e.want(e.do("GET", "/api/admin/system/stats", nil, "Cookie", admin), http.StatusOK)
			r.json(t, &out)
			if !out.VMSupport || out.IPPool.CIDR != "192.168.100.0/24" || *out.IPPool.Total != 253 || *out.IPPool.Available != 253 {
				t.Fatalf("with controller: %s", r.body)
			}

			var legacy struct{ Stats map[string]any }
			e.want(e.do("GET", "/api/admin/stats", nil, "Cookie", admin), http.StatusOK).json(t, &legacy)
			if legacy.Stats["total_vms"] != 2.0 || legacy.Stats["active_vms"] != 2.0 || legacy.Stats["ip_pool_total"] != 253.0 {
				t.Fatalf("admin stats = %v", legacy.Stats)
			}
		})
	}
}

func TestParseMemInfo(t *testing.T) {
	t.Parallel()
	m, err := parseMemInfo([]byte("MemTotal:       16384 kB\nMemFree:  1 kB\nMemAvailable:    8192 kB\n"))
	if err != nil || m.total != 16384*1024 || m.available != 8192*1024 {
		t.Fatalf("parseMemInfo = %+v, %v", m, err)
	}
	for _, bad := range []string{"", "MemTotal: 1 kB\n", "MemTotal: x kB\nMemAvailable: 1 kB\n", "MemTotal: -1 kB\nMemAvailable: 1 kB\n"} {
		if _, err := parseMemInfo([]byte(bad)); err == nil {
			t.Errorf("parseMemInfo(%q) succeeded", bad)
		}
	}
}

// stubController stands in for the VM controller, which does not exist yet: it writes records
// through the store and touches no host resource. It exists only to check how the web layer calls a
// controller and what it does with the answers.
type stubController struct{ store polydev.Store }

func (c *stubController) Create(ctx context.Context, u *polydev.User, t polydev.VMType) (*polydev.VM, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	v := &polydev.VM{ID: polydev.NewID(), UserID: u.ID, Type: t, State: polydev.VMCreated, Driver: "stub",
		VMResources: polydev.VMResources{VCPUs: 1, MemoryMiB: 512}, CreatedAt: now, UpdatedAt: now, LastActivityAt: now}
	return v, c.store.CreateVM(ctx, v)
}

func (c *stubController) move(ctx context.Context, u *polydev.User, id string, to polydev.VMState) (*polydev.VM, error) {
	v, err := c.store.VMByID(ctx, u.ID, id)
	if err != nil {
		return nil, err
	}
	if err := c.store.SetVMState(ctx, id, v.State, to, time.Now()); err != nil {
		return nil, err
	}
	return c.store.VMByID(ctx, u.ID, id)
}

func (c *stubController) Start(ctx context.Context, u *polydev.User, id string) (*polydev.VM, error) {
	return c.move(ctx, u, id, polydev.VMRunning)
}

func (c *stubController) Stop(ctx context.Context, u *polydev.User, id string) (*polydev.VM, error) {
	return c.move(ctx, u, id, polydev.VMStopped)
}

func (c *stubController) Delete(ctx context.Context, u *polydev.User, id string) error {
	if _, err := c.store.VMByID(ctx, u.ID, id); err != nil {
		return err
	}
	return c.store.DeleteVM(ctx, id)
}

func (c *stubController) PoolStats(context.Context) (polydev.VMPoolStats, error) {
	return polydev.VMPoolStats{CIDR: "192.168.100.0/24", Total: 253, Available: 253}, nil
}

func (c *stubController) Dial(ctx context.Context, u *polydev.User, id string, port uint16) (net.Conn, error) {
	if _, err := c.store.VMByID(ctx, u.ID, id); err != nil {
		return nil, err
	}
	return nil, polydev.Errorf(polydev.ECONFLICT, "VM is not running")
}
