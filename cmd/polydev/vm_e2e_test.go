package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/polydev/polydev/internal/rfb"
	"github.com/polydev/polydev/vm"
)

// TestVMEndToEnd drives a browser VM through the real binary on real QEMU: create it through the API,
// load the viewer page (served by the host, never the guest), reach the guest display through a
// viewer ticket and the noVNC WebSocket, take a VNC screenshot and check it is not blank, stop,
// start, delete, and then find nothing the VM owned left on the host.
// It needs qemu-system-x86_64 and a golden image (POLYDEV_VM_IMAGE); make test provides both.
func TestVMEndToEnd(t *testing.T) {
	image := os.Getenv("POLYDEV_VM_IMAGE")
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil || image == "" {
		t.Skip("SKIP: needs qemu-system-x86_64 on PATH and POLYDEV_VM_IMAGE (make test builds the golden image) " + os.Getenv("POLYDEV_VM_IMAGE_ERROR"))
	}
	dir := shortTempDir(t)
	dataDir := filepath.Join(dir, "data")
	// The golden VM may settle 20 s: enough to run that path on real /proc, short enough for CI.
	env := []string{"POLYDEV_VM_DRIVER=qemu", "POLYDEV_VM_NET=user", "POLYDEV_VM_IMAGE=" + image, "POLYDEV_VM_WARM=0",
		"POLYDEV_VM_GOLDEN_SETTLE=20s", "POLYDEV_VM_BOOT_TIMEOUT=10m"} // a loaded 2-core TCG host boots slowly
	createUser(t, dataDir, env, "vm@example.com", "vm-password-0001", "pro")
	p := startServe(t, dir, env...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve logs:\n%s", p.logs)
		}
	})
	c := client{t: t, base: p.base}
	h, _ := c.want(200, "POST", "/api/account/login", `{"email":"vm@example.com","password":"vm-password-0001"}`)
	cookie := cookieOf(t, h)

	_, body := c.want(201, "POST", "/api/vms", `{"type":"browser"}`, "Cookie", cookie)
	var created struct{ ID, State string }
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	if created.State != "running" {
		t.Fatalf("created VM state %q, want running: %s", created.State, body)
	}
	id := created.ID

	c.want(200, "GET", "/api/vms/"+id, "", "Cookie", cookie)
	viewerPage(t, c, id, cookie)
	screenshotNotBlank(t, c, id, cookie)

	_, body = c.want(200, "POST", "/api/vms/"+id+"/stop", "", "Cookie", cookie)
	if !strings.Contains(body, `"state":"stopped"`) {
		t.Fatalf("stop answered %s", body)
	}
	if code, _, _ := c.do("POST", "/api/vms/"+id+"/vnc-ticket", "", "Cookie", cookie); code != http.StatusConflict {
		t.Fatalf("viewer ticket of a stopped VM = %d, want 409", code)
	}
	_, body = c.want(200, "POST", "/api/vms/"+id+"/start", "", "Cookie", cookie)
	if !strings.Contains(body, `"state":"running"`) {
		t.Fatalf("start answered %s", body)
	}
	screenshotNotBlank(t, c, id, cookie)

	c.want(204, "DELETE", "/api/vms/"+id, "", "Cookie", cookie)
	c.want(404, "GET", "/api/vms/"+id, "", "Cookie", cookie)
	assertNothingLeft(t, dir, id)
}

// vncTicket asks for a single-use viewer ticket, as the web UI does before opening the viewer.
func vncTicket(t *testing.T, c client, id, cookie string) (url, wsPath string) {
	t.Helper()
	_, body := c.want(200, "POST", "/api/vms/"+id+"/vnc-ticket", "", "Cookie", cookie)
	var tk struct{ Ticket, URL, Path string }
	if err := json.Unmarshal([]byte(body), &tk); err != nil || tk.Ticket == "" || tk.URL == "" || tk.Path == "" {
		t.Fatalf("vnc-ticket answered %s (%v)", body, err)
	}
	return tk.URL, tk.Path
}

// viewerPage loads the ticket's viewer page, which the host serves from its own noVNC copy (never
// the guest's), when the host has noVNC (make test installs the novnc package).
func viewerPage(t *testing.T, c client, id, cookie string) {
	t.Helper()
	if _, err := os.Stat("/usr/share/novnc/vnc.html"); err != nil {
		t.Log("no /usr/share/novnc on the host: viewer page not checked (apt-get install novnc)")
		return
	}
	url, _ := vncTicket(t, c, id, cookie)
	page, _, _ := strings.Cut(url, "#") // the fragment, ticket included, stays in the browser
	h, body := c.want(200, "GET", page, "")
	if !strings.Contains(body, "noVNC") {
		t.Fatalf("noVNC page not served from the host: %.200s", body)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("viewer page CSP = %q", csp)
	}
}

// screenshotNotBlank opens the noVNC WebSocket through Polydev as a browser would (a fresh ticket,
// the session cookie, our own Origin) and takes RFB screenshots until one is not a single colour.
// Chromium paints its window a few seconds after x11vnc answers, so a blank first frame is retried
// within a budget; each try takes a ticket of its own, since a ticket opens one WebSocket.
func screenshotNotBlank(t *testing.T, c client, id, cookie string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	hdr := http.Header{"Cookie": {cookie}, "Origin": {c.base}}
	var lastErr error
	for ctx.Err() == nil {
		_, wsPath := vncTicket(t, c, id, cookie)
		url := "ws" + strings.TrimPrefix(c.base, "http") + wsPath
		conn, err := rfb.DialWebSocket(ctx, url, &websocket.DialOptions{HTTPHeader: hdr, Subprotocols: []string{"binary"}})
		if err == nil {
			img, serr := rfb.Screenshot(ctx, conn)
			conn.Close()
			if serr == nil && !rfb.Blank(img) {
				t.Logf("screenshot %v, not blank", img.Bounds().Size())
				return
			}
			lastErr = serr
			if serr == nil {
				lastErr = errBlank
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	t.Fatalf("no non-blank screenshot of VM %s: %v", id, lastErr)
}

type blankError struct{}

func (blankError) Error() string { return "screen is a single colour" }

var errBlank error = blankError{}

// assertNothingLeft looks for every resource named from the VM id: a hypervisor process, files in
// the data directory (overlay, sockets, memory, logs), a network namespace.
func assertNothingLeft(t *testing.T, dir, id string) {
	t.Helper()
	names := vm.Names(id)
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), names.Process) {
			t.Errorf("process left: %s: %q", f, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil {
			if key, ok := vm.KeyOf(d.Name()); ok && key == names.Key {
				t.Errorf("file left: %s", path)
			}
		}
		return nil
	})
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil && strings.Contains(string(out), names.Netns) {
		t.Errorf("namespace left: %s", names.Netns)
	}
}

// createUser makes an account with the CLI, as an operator would.
func createUser(t *testing.T, dataDir string, env []string, email, password, tier string) {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "user", "create", "--email", email, "--tier", tier)
	cmd.Stdin = strings.NewReader(password + "\n")
	cmd.Env = append(append(os.Environ(), "POLYDEV_DATA_DIR="+dataDir), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user create: %v\n%s", err, out)
	}
}

// shortTempDir is a temporary directory with a short path: QMP sockets live under the data
// directory and a unix socket path must fit in 107 bytes.
func shortTempDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "pdvm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}
