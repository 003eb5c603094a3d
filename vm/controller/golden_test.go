package controller

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/vm"
)

// goldenEnv is newEnv with a snapshot root and the image files the key stamps.
func goldenEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	e := newEnv(t, vm.NetUser, func(c *Config) {
		c.Image.SnapshotDir = filepath.Join(filepath.Dir(c.RunDir), "snapshots")
		c.Image.ID = "image-hash-1"
		if edit != nil {
			edit(c)
		}
	})
	return e
}

// snapshots lists the published snapshot directories (those with a manifest) under the root.
func (e *env) snapshots() []string {
	e.t.Helper()
	m, err := filepath.Glob(filepath.Join(e.cfg.Image.SnapshotDir, "*", snapManifest))
	if err != nil {
		e.t.Fatal(err)
	}
	var dirs []string
	for _, f := range m {
		dirs = append(dirs, filepath.Dir(f))
	}
	slices.Sort(dirs)
	return dirs
}

// restart is a new process over the same directories and database: a fresh driver that knows no
// VM, but the same hypervisor fingerprint.
func (e *env) restart() *Controller {
	e.t.Helper()
	old := e.d
	e.d = newFakeDriver()
	e.d.fingerprint = old.fingerprint
	e.n.d = e.d
	e.cfg.Driver = e.d
	e.t.Cleanup(e.d.closeAll)
	return e.newController()
}

func (e *env) prepare(c *Controller) {
	e.t.Helper()
	if err := c.PrepareGolden(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// TestGoldenSurvivesRestart: a restarted controller verifies and restores the saved snapshot; its
// first Create is a restore, and no golden VM is booted.
func TestGoldenSurvivesRestart(t *testing.T) {
	e := goldenEnv(t, nil)
	e.prepare(e.c)
	if e.d.snaps != 1 || counterValue(e.c.metrics.golden.WithLabelValues("made")) != 1 {
		t.Fatalf("first start: %d snapshots", e.d.snaps)
	}
	if err := e.c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}

	c2 := e.restart()
	booted := 0
	e.d.hook = func(method, id string) error {
		if method == "Create" || method == "Start" {
			booted++
		}
		return nil
	}
	if err := c2.StartServices(t.Context()); err != nil {
		t.Fatal(err)
	}
	u := e.user(polydev.TierPro)
	v, err := c2.Create(t.Context(), u, polydev.VMBrowser)
	if err != nil {
		t.Fatal(err)
	}
	c2.StopServices()
	if got, _ := e.d.get(v.ID); !got.restored {
		t.Fatal("the first VM after the restart was not restored")
	}
	if booted != 0 || e.d.snaps != 0 {
		t.Fatalf("the restarted controller booted %d VMs cold and made %d snapshots", booted, e.d.snaps)
	}
	if n := counterValue(c2.metrics.golden.WithLabelValues("reused")); n != 1 {
		t.Fatalf("reused %v", n)
	}
}

// TestGoldenKeyed: anything a snapshot depends on changes its key: a snapshot is never restored
// under another image, image build, hypervisor or machine configuration; the new configuration
// gets a snapshot of its own, and the other one goes at start since no VM uses it.
func TestGoldenKeyed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(e *env)
	}{
		{"hypervisor version", func(e *env) { e.d.fingerprint = "fake hypervisor 2" }},
		{"image hash", func(e *env) { e.cfg.Image.ID = "image-hash-2" }},
		{"root image rebuilt in place", func(e *env) {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(e.cfg.Image.RootImage, later, later); err != nil {
				t.Fatal(err)
			}
		}},
		{"kernel replaced", func(e *env) {
			if err := os.WriteFile(e.cfg.Image.KernelPath, []byte("another kernel"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"vcpus", func(e *env) { e.cfg.VCPUs = 4 }},
		{"memory", func(e *env) { e.cfg.MemoryMiB = 2048 }},
		{"kernel args", func(e *env) { e.cfg.Image.KernelArgs = "console=ttyS0 quiet" }},
		{"network mode", func(e *env) { e.cfg.NetMode = vm.NetTAP }},
		{"driver", func(e *env) { e.cfg.DriverName = "other" }},
		{"settling", func(e *env) { e.cfg.GoldenSettle = time.Millisecond }},
		{"egress proxy", func(e *env) {
			p, err := egress.New(egress.Config{})
			if err != nil {
				t.Fatal(err)
			}
			e.cfg.Egress, e.cfg.EgressPipe = p, []string{"/usr/local/bin/polydev", "egress-pipe"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := goldenEnv(t, nil)
			e.prepare(e.c)
			first := e.snapshots()
			tc.change(e)
			c2 := e.restart()
			e.prepare(c2)
			if e.d.snaps != 1 || counterValue(c2.metrics.golden.WithLabelValues("made")) != 1 {
				t.Fatalf("after the change: %d snapshots made, want a new one", e.d.snaps)
			}
			if got := filepath.Dir(c2.goldenSnapshot().StatePath); got == first[0] {
				t.Fatalf("restores from the other configuration's snapshot %s", got)
			}
			if all := e.snapshots(); len(all) != 1 || fileExists(first[0]) {
				t.Fatalf("snapshots %v: the unused one of the other configuration (%v) was not pruned", all, first)
			}
		})
	}
}

// TestGoldenDamaged: a saved snapshot whose files do not match its manifest, or whose manifest
// is unreadable, is not restored: it is unpublished and a new one made.
func TestGoldenDamaged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"memory changed", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, snapMem), "MEM") }},
		{"memory truncated", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, snapMem), "me") }},
		{"state missing", func(t *testing.T, dir string) { rm(t, filepath.Join(dir, snapState)) }},
		{"disk changed", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, snapDisk), "dusk") }},
		{"manifest torn", func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, snapManifest), `{"key":{"form`) }},
		{"manifest of another key", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, snapManifest))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, snapManifest), string(replaceOnce(t, b, `"vcpus": 2`, `"vcpus": 3`)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := goldenEnv(t, nil)
			e.prepare(e.c)
			old := e.snapshots()[0]
			tc.damage(t, old)
			c2 := e.restart()
			e.prepare(c2)
			if e.d.snaps != 1 {
				t.Fatalf("a damaged snapshot was reused (%d made)", e.d.snaps)
			}
			if got := filepath.Dir(c2.goldenSnapshot().StatePath); got == old {
				t.Fatal("restores from the damaged snapshot")
			}
			if fileExists(filepath.Join(old, snapManifest)) {
				t.Fatal("the damaged snapshot is still published")
			}
		})
	}
}

// TestGoldenCrashMidWrite: a golden snapshot cut short (the process died while the driver wrote
// it, or before the manifest) is never restored, and the next start removes it.
func TestGoldenCrashMidWrite(t *testing.T) {
	e := goldenEnv(t, nil)
	key, err := e.c.goldenKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// What a crash leaves: the temporary directory with the driver's files and no manifest, and a
	// final-looking directory whose manifest never got written.
	tmp := filepath.Join(e.cfg.Image.SnapshotDir, tmpPrefix+key.name()+".aaaaaaaaaa")
	unsealed := filepath.Join(e.cfg.Image.SnapshotDir, key.name()+".bbbbbbbbbb")
	for _, d := range []string{tmp, unsealed} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d, snapState), "state")
		writeFile(t, filepath.Join(d, snapMem), "me")
	}
	writeFile(t, filepath.Join(unsealed, snapManifest+".tmp"), `{"key":`)
	e.prepare(e.c)
	if e.d.snaps != 1 {
		t.Fatalf("%d snapshots made, want 1", e.d.snaps)
	}
	for _, d := range []string{tmp, unsealed} {
		if fileExists(d) {
			t.Errorf("%s left after the start", d)
		}
	}
}

// TestGoldenPrune: at start, snapshot directories of other keys (and the previous layout's) go,
// unless a VM overlay still falls through to their disk layer; unrelated files stay.
func TestGoldenPrune(t *testing.T) {
	e := goldenEnv(t, nil)
	root := e.cfg.Image.SnapshotDir
	stale := []string{"0123456789abcdef.aaaaaaaaaa", ".tmp-0123456789abcdef.bbbbbbbbbb",
		"0791f8566d11e346d2a20b36293b08557ae02467f7f7825ef3a70649d65ec77c-1a2b3c4d"}
	used := "fedcba9876543210.cccccccccc"
	for _, d := range append(slices.Clone(stale), used) {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, d, snapDisk), "disk")
	}
	writeFile(t, filepath.Join(root, "README"), "the operator's note")
	// A stopped clone's overlay falls through to the used snapshot's disk layer.
	writeFile(t, filepath.Join(e.cfg.VMDir, vm.Names("clone").Overlay), string(qcow2Header(filepath.Join(root, used, snapDisk))))
	e.prepare(e.c)
	for _, d := range stale {
		if fileExists(filepath.Join(root, d)) {
			t.Errorf("stale %s kept", d)
		}
	}
	for _, f := range []string{filepath.Join(used, snapDisk), "README"} {
		if !fileExists(filepath.Join(root, f)) {
			t.Errorf("%s removed", f)
		}
	}
	if len(e.snapshots()) != 1 {
		t.Fatalf("snapshots %v", e.snapshots())
	}
	// Pruning is once per process: a later PrepareGolden (a rebuild) leaves the previous one.
	prev := e.snapshots()[0]
	e.c.cfg.Rebuild = func(context.Context) (*Image, error) { return nil, nil }
	if err := e.c.RebuildOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !fileExists(filepath.Join(prev, snapDisk)) {
		t.Fatal("a rebuild removed the previous snapshot, which running clones may use")
	}
}

// TestQcow2Backing reads the backing file name as qemu-img writes it, and nothing from other files.
func TestQcow2Backing(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"overlay", string(qcow2Header("/data/snapshots/k.x/disk.qcow2")), "/data/snapshots/k.x/disk.qcow2"},
		{"no backing", string(qcow2Header("")), ""},
		{"raw", "just bytes, not qcow2 at all", ""},
		{"short", "QFI", ""},
	} {
		p := filepath.Join(dir, tc.name)
		writeFile(t, p, tc.content)
		got, err := qcow2Backing(p)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestCreateWaitsForSavedGolden: a Create that arrives right after StartServices, before the boot
// loop has verified the saved snapshot, waits for it and restores instead of cold-booting.
func TestCreateWaitsForSavedGolden(t *testing.T) {
	e := goldenEnv(t, nil)
	e.prepare(e.c)
	c2 := e.restart()
	verifying, release := make(chan struct{}), make(chan struct{})
	e.d.hook = func(method, id string) error {
		if method == "Fingerprint" {
			close(verifying)
			<-release
		}
		return nil
	}
	if err := c2.StartServices(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c2.StopServices()
	<-verifying
	u := e.user(polydev.TierPro)
	created := make(chan *polydev.VM, 1)
	go func() {
		v, err := c2.Create(t.Context(), u, polydev.VMBrowser)
		if err != nil {
			t.Error(err)
		}
		created <- v
	}()
	// A grace period only to let a wrong implementation cold-boot; the check below is exact.
	time.Sleep(50 * time.Millisecond)
	close(release)
	v := <-created
	if v == nil {
		t.FailNow()
	}
	if got, _ := e.d.get(v.ID); !got.restored {
		t.Fatal("a Create during the snapshot's verification cold-booted")
	}
}

// qcow2Header is the start of a qcow2 version 3 file whose backing file is backing.
func qcow2Header(backing string) []byte {
	b := make([]byte, 104)
	copy(b, "QFI\xfb")
	binary.BigEndian.PutUint32(b[4:], 3)
	if backing != "" {
		binary.BigEndian.PutUint64(b[8:], uint64(len(b)))
		binary.BigEndian.PutUint32(b[16:], uint32(len(backing)))
		b = append(b, backing...)
	}
	return b
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func rm(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func replaceOnce(t *testing.T, b []byte, old, new string) []byte {
	t.Helper()
	if !strings.Contains(string(b), old) {
		t.Fatalf("%q not in %s", old, b)
	}
	return []byte(strings.Replace(string(b), old, new, 1))
}

// TestGoldenKeptWhenGuestSlow: a restored guest that does not answer in time (AfterRestore or the
// health wait fails) is cold-booted instead, but the snapshot is kept until that happens three
// times in a row; a driver's failed Restore discards it at once (TestGoldenSnapshot).
func TestGoldenKeptWhenGuestSlow(t *testing.T) {
	fail := true
	e := goldenEnv(t, func(c *Config) {
		c.AfterRestore = func(ctx context.Context, id string, dial DialFunc) error {
			if fail {
				return errors.New("agent did not answer /sync in 30s")
			}
			return nil
		}
	})
	e.prepare(e.c)
	u := e.user(polydev.TierEnterprise)
	create := func() (restored bool) {
		t.Helper()
		v, err := e.c.Create(t.Context(), u, polydev.VMBrowser)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := e.d.get(v.ID)
		return got.restored
	}
	for i := range 2 {
		if create() || e.c.goldenSnapshot() == nil || len(e.snapshots()) != 1 {
			t.Fatalf("slow guest %d: restored, or the snapshot was discarded", i+1)
		}
	}
	fail = false
	if !create() {
		t.Fatal("not restored once the guest answers")
	}
	fail = true
	for i := range guestFailuresToDiscard {
		create()
		if discarded := e.c.goldenSnapshot() == nil; discarded != (i == guestFailuresToDiscard-1) {
			t.Fatalf("after %d slow guests in a row: discarded %v", i+1, discarded)
		}
	}
	if len(e.snapshots()) != 0 {
		t.Fatal("the discarded snapshot is still published")
	}
}
