package controller

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/store"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

// testCIDR is a small pool: 13 usable slots.
const testCIDR = "10.77.0.0/28"

type env struct {
	t     *testing.T
	c     *Controller
	d     *fakeDriver
	n     *fakeNet
	procs *fakeProcs
	db    *store.DB
	pool  *netpool.Pool
	cfg   Config
	clock *clock
	dir   string
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newEnv builds a controller over a real SQLite store, a fake driver, a fake network and a fake
// process table, with mode's networking. edit may change the Config before New.
func newEnv(t *testing.T, mode vm.NetMode, edit func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "polydev.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, d: newFakeDriver(), procs: &fakeProcs{procs: map[int]string{}}, db: db, dir: dir,
		clock: &clock{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}}
	e.n = newFakeNet(e.d)
	e.pool, err = netpool.New(netpool.Config{CIDR: testCIDR, Store: store.Leases(db, netip.MustParsePrefix(testCIDR))})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = Config{
		Store: db, Driver: e.d, DriverName: "fake", NetMode: mode, Pool: e.pool, Network: e.n,
		Image: Image{
			KernelPath: filepath.Join(dir, "image", "vmlinux"), RootImage: filepath.Join(dir, "image", "rootfs.ext4"),
		},
		RunDir: filepath.Join(dir, "run"), VMDir: filepath.Join(dir, "vms"),
		HealthTimeout: 3 * time.Second, HealthPoll: 5 * time.Millisecond,
		Processes: e.procs, Now: e.clock.Now,
	}
	if edit != nil {
		edit(&e.cfg)
	}
	for _, d := range []string{e.cfg.RunDir, e.cfg.VMDir, filepath.Join(dir, "image")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The image files exist (the golden snapshot's key stamps them), with content of their own.
	for _, f := range []string{filepath.Join(dir, "image", "vmlinux"), filepath.Join(dir, "image", "rootfs.ext4")} {
		if err := os.WriteFile(f, []byte("image file "+filepath.Base(f)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.c = e.newController()
	t.Cleanup(e.d.closeAll)
	return e
}

// newController builds another controller over the same config (a restarted process would also
// get a fresh driver; callers swap e.d for that).
func (e *env) newController() *Controller {
	e.t.Helper()
	c, err := New(e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func (e *env) user(tier polydev.Tier) *polydev.User {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &polydev.User{ID: polydev.NewID(), Email: "u-" + polydev.NewID()[:8] + "@example.com",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", Role: polydev.RoleUser, Tier: tier,
		CreatedAt: now, UpdatedAt: now}
	if err := e.db.CreateUser(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) record(id string) *polydev.VM {
	e.t.Helper()
	all, err := e.db.ListAllVMs(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	for _, v := range all {
		if v.ID == id {
			return v
		}
	}
	return nil
}

func (e *env) leases() map[netip.Addr]string {
	e.t.Helper()
	l, err := store.Leases(e.db, netip.MustParsePrefix(testCIDR)).Leases(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// files lists the run and VM directories.
func (e *env) files() []string {
	e.t.Helper()
	var out []string
	for _, d := range []string{e.cfg.RunDir, e.cfg.VMDir} {
		ents, err := os.ReadDir(d)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, en := range ents {
			out = append(out, en.Name())
		}
	}
	sort.Strings(out)
	return out
}

// assertNothingHeld fails unless VM id holds no driver VM, port, lease, namespace or file.
func (e *env) assertNothingHeld(id string) {
	e.t.Helper()
	if _, ok := e.d.get(id); ok {
		e.t.Errorf("driver still has VM %s", id)
	}
	if _, ok := e.c.portsOf(id); ok {
		e.t.Errorf("VM %s still holds host ports", id)
	}
	for ip, holder := range e.leases() {
		if holder == id {
			e.t.Errorf("VM %s still leases %v", id, ip)
		}
	}
	names := vm.Names(id)
	if e.n.has(names.Netns) || e.n.has(names.TAP) {
		e.t.Errorf("VM %s still has its namespace or TAP", id)
	}
	for _, f := range e.files() {
		if key, ok := vm.KeyOf(f); ok && key == names.Key {
			e.t.Errorf("VM %s left file %s", id, f)
		}
	}
}

// assertFailedReleased is assertNothingHeld for a failed VM: only its hypervisor log may remain.
// Deleting the record then removes that too.
func (e *env) assertFailedReleased(u *polydev.User, id string) {
	e.t.Helper()
	log := vm.Names(id).LogFile
	for _, f := range e.files() {
		if key, ok := vm.KeyOf(f); ok && key == vm.Names(id).Key && f != log {
			e.t.Errorf("failed VM %s left file %s", id, f)
		}
	}
	if err := e.c.Delete(e.t.Context(), u, id); err != nil {
		e.t.Fatalf("Delete of failed VM: %v", err)
	}
	e.assertNothingHeld(id)
}

// get fetches path on port of VM id through the controller's Dial as u.
func (e *env) get(u *polydev.User, id string, port uint16, path string) (string, error) {
	conn, err := e.c.Dial(e.t.Context(), u, id, port)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET "+path+" HTTP/1.0\r\nHost: vm\r\n\r\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	resp := string(b)
	if len(resp) < 12 || resp[9:12] != "200" {
		return resp, errors.New("not 200: " + resp)
	}
	return resp, nil
}

func mustCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := polydev.ErrorCode(err); got != want {
		t.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}
