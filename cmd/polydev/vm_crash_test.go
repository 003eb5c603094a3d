package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/polydev/polydev/vm"
)

// TestVMCrashReconcile kills `polydev serve` with SIGKILL while one VM runs and two more are being
// created (and, with the default warm pool, a warm VM may be booting), then starts it again on the
// same data directory. The restarted controller must keep exactly the recorded VMs, none of them
// claiming to run, and leave no process, socket, overlay, memory file or namespace that no record
// owns; only a failed VM's console log may stay until its record is deleted. Deleting every VM then
// leaves nothing at all.
func TestVMCrashReconcile(t *testing.T) {
	image := os.Getenv("POLYDEV_VM_IMAGE")
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil || image == "" {
		t.Skip("SKIP: needs qemu-system-x86_64 on PATH and POLYDEV_VM_IMAGE (make test builds the golden image) " + os.Getenv("POLYDEV_VM_IMAGE_ERROR"))
	}
	dir := shortTempDir(t)
	dataDir := filepath.Join(dir, "data")
	base := []string{"POLYDEV_VM_DRIVER=qemu", "POLYDEV_VM_NET=user", "POLYDEV_VM_IMAGE=" + image, "POLYDEV_VM_GOLDEN_SETTLE=0s",
		"POLYDEV_VM_ACCEL=tcg", "POLYDEV_VM_BOOT_TIMEOUT=10m"}
	createUser(t, dataDir, base, "crash@example.com", "crash-password-01", "pro")

	p := startServe(t, dir, append(base, "POLYDEV_VM_WARM=1")...)
	c := client{t: t, base: p.base}
	h, _ := c.want(200, "POST", "/api/account/login", `{"email":"crash@example.com","password":"crash-password-01"}`)
	cookie := cookieOf(t, h)
	c.want(201, "POST", "/api/vms", `{"type":"browser"}`, "Cookie", cookie)

	// Two creates in flight; kill once both records exist, i.e. while their VMs are booting.
	for range 2 {
		go func() {
			// Its answer never comes: the server dies under it.
			req, _ := http.NewRequest("POST", p.base+"/api/vms", strings.NewReader(`{"type":"cli"}`))
			req.Header.Set("Cookie", cookie)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(listVMs(t, c, cookie)) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the two creates never recorded their VMs:\n%s", p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let the hypervisors start, so there is something to reclaim
	recorded := listVMs(t, c, cookie)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	// The hypervisors run in their own process groups and outlive the killed server: that is what
	// the restarted reconciler has to clean up. Make sure this run really left it something.
	var leftProcs int
	for _, r := range vmResources(t, dir, nil) {
		if strings.HasPrefix(r, "process ") {
			leftProcs++
		}
	}
	if leftProcs == 0 {
		t.Fatalf("no hypervisor survived the kill; the test did not exercise the reconciler:\n%s", p.logs)
	}
	t.Logf("after SIGKILL: %d hypervisor processes left for the reconciler", leftProcs)

	// Restart without a warm pool or snapshot boot, so the new process starts no VM of its own and
	// everything found on the host afterwards belongs to the records.
	p2 := startServe(t, dir, append(base, "POLYDEV_VM_WARM=0", "POLYDEV_VM_SNAPSHOT=off")...)
	c2 := client{t: t, base: p2.base}
	h, _ = c2.want(200, "POST", "/api/account/login", `{"email":"crash@example.com","password":"crash-password-01"}`)
	cookie = cookieOf(t, h)
	after := listVMs(t, c2, cookie)
	if !slices.Equal(ids(recorded), ids(after)) {
		t.Fatalf("records before the crash %v, after the restart %v", ids(recorded), ids(after))
	}
	keys := map[string]bool{}
	for _, v := range after {
		keys[vm.Names(v.ID).Key] = true
		if v.State != "failed" && v.State != "stopped" {
			t.Errorf("VM %s is %s after the restart; nothing of the old process can be running", v.ID, v.State)
		}
	}
	for _, leftover := range vmResources(t, dir, keys) {
		key, _ := vm.KeyOf(filepath.Base(leftover))
		switch {
		case !keys[key]:
			t.Errorf("orphan left after reconcile: %s", leftover)
		case !strings.HasSuffix(leftover, ".log"):
			t.Errorf("failed VM still holds %s", leftover)
		}
	}
	for _, v := range after {
		c2.want(204, "DELETE", "/api/vms/"+v.ID, "", "Cookie", cookie)
	}
	if left := vmResources(t, dir, keys); len(left) != 0 {
		t.Errorf("left after deleting every VM: %v", left)
	}
	if t.Failed() {
		t.Logf("first run:\n%s\nsecond run:\n%s", p.logs, p2.logs)
	}
}

type vmRecord struct{ ID, State string }

func listVMs(t *testing.T, c client, cookie string) []vmRecord {
	t.Helper()
	_, body := c.want(200, "GET", "/api/vms", "", "Cookie", cookie)
	var out struct{ VMs []vmRecord }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	return out.VMs
}

func ids(vs []vmRecord) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	slices.Sort(out)
	return out
}

// vmResources lists every host resource named by vm.Names that belongs to the server in dir:
// hypervisor processes whose command line names a path under dir, files under dir, and network
// namespaces of the VMs in keys. Other tests run VMs and namespaces on this host at the same time,
// so nothing outside dir is looked at.
func vmResources(t *testing.T, dir string, keys map[string]bool) []string {
	t.Helper()
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), dir+"/") {
			continue
		}
	args:
		for _, arg := range strings.Split(string(b), "\x00") {
			for _, field := range strings.FieldsFunc(arg, func(r rune) bool { return r == ',' || r == '=' || r == '/' }) {
				if _, ok := vm.KeyOf(field); ok && strings.HasPrefix(field, vm.ProcessPrefix) && !strings.Contains(field, ".") {
					found = append(found, "process "+filepath.Dir(f)+" "+field)
					break args // one entry per process
				}
			}
		}
	}
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil {
			if _, ok := vm.KeyOf(d.Name()); ok {
				found = append(found, path)
			}
		}
		return nil
	})
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				if key, ok := vm.KeyOf(f[0]); ok && keys[key] {
					found = append(found, "netns "+f[0])
				}
			}
		}
	}
	return found
}
