package qemu

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/polydev/polydev/agent"
	"github.com/polydev/polydev/vm"
)

// TestRealQEMU runs the golden image under real QEMU (TCG): cold boot until the agent reports the
// browser ready and websockify answers with the VNC server's banner through a second host forward,
// snapshot (shared memory file + x-ignore-shared), two clones restored concurrently from that one
// snapshot on different ports, each healthy, serving VNC and accepting the clock and entropy sync;
// then a clean Stop through the ACPI power button and a Destroy that leaves nothing behind. The clones
// must not have written the snapshot's memory file, and nobody the golden image. Timings and host
// memory are logged (see doc.go for the numbers measured). POLYDEV_VM_IMAGE is an image directory
// (vmlinux, initrd.img, rootfs.ext4), built by scripts/vmimage.sh, which `make test` runs.
func TestRealQEMU(t *testing.T) {
	bin, image := requireImage(t)
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	r := &realRig{t: t, image: image, runDir: shortDir(t)}
	memDir, snapDir := shortDir(t), shortDir(t)
	// StopTimeout is generous: the test asserts that the guest powers off cleanly, which on this shared
	// 2-core machine took 6-14 s (the logged Stop time), not how fast.
	d, err := New(Config{Binary: bin, Accel: AccelTCG, MemoryDir: memDir, StartTimeout: 30 * time.Second, StopTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rootBefore := fileStamp(t, filepath.Join(image, "rootfs.ext4"))

	// Cold boot of the VM to snapshot.
	golden := r.spec("real-golden")
	start := time.Now()
	if err := d.Create(ctx, golden.Spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Destroy(context.Background(), golden.ID) })
	if err := d.Start(ctx, golden.ID); err != nil {
		t.Fatal(err)
	}
	r.waitHealth(ctx, golden, 90*time.Second, func(agent.HealthReport) bool { return true })
	t.Logf("cold boot: agent answered after %v", time.Since(start).Round(time.Millisecond))
	rep := r.waitHealth(ctx, golden, 240*time.Second, browserReady)
	t.Logf("cold boot: browser ready (status %s) after %v; children ready at %s", rep.Status,
		time.Since(start).Round(time.Millisecond), readyTimes(rep, start))
	r.wantVNC(golden)
	t.Logf("cold boot: host memory %s", procMemory(r.pid(golden)))

	snap := vm.SnapshotFiles{StatePath: filepath.Join(snapDir, "g.vmstate"), MemPath: filepath.Join(snapDir, "g.mem"),
		DiskPath: filepath.Join(snapDir, "g.disk.qcow2")}
	start = time.Now()
	if err := d.Snapshot(ctx, golden.ID, snap); err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot (stop, migrate device state, copy memory file, cont): %v; state %s, memory %s",
		time.Since(start).Round(time.Millisecond), fileSize(snap.StatePath), fileSize(snap.MemPath))
	if err := d.Destroy(ctx, golden.ID); err != nil {
		t.Fatal(err)
	}
	memSum, diskSum := sha256File(t, snap.MemPath), sha256File(t, snap.DiskPath)

	// Two clones of the one snapshot, restored at the same time.
	clones := []realVM{r.spec("real-clone-a"), r.spec("real-clone-b")}
	var wg sync.WaitGroup
	errs := make([]error, len(clones))
	for i, c := range clones {
		t.Cleanup(func() { d.Destroy(context.Background(), c.ID) })
		wg.Go(func() {
			start := time.Now()
			if errs[i] = d.Restore(ctx, c.Spec, snap); errs[i] != nil {
				return
			}
			restored := time.Since(start)
			if errs[i] = r.pollHealth(ctx, c, 90*time.Second, browserReady); errs[i] == nil {
				t.Logf("%s: Restore returned after %v, healthy with the browser ready after %v", c.ID,
					restored.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v\n%s", clones[i].ID, err, r.logTail(clones[i]))
		}
	}
	for _, c := range clones {
		r.wantVNC(c)
		r.wantSync(ctx, c)
		t.Logf("%s: host memory %s", c.ID, procMemory(r.pid(c)))
	}

	// A clean stop: the guest sees the power button, stops the agent and powers off.
	start = time.Now()
	if err := d.Stop(ctx, clones[0].ID); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: Stop took %v", clones[0].ID, time.Since(start).Round(time.Millisecond))
	log := r.logTail(clones[0])
	if !strings.Contains(log, "reboot: Power down") {
		t.Errorf("%s did not power off cleanly on system_powerdown (killed instead?); log:\n%s", clones[0].ID, log)
	} else if i := strings.Index(log, "polydev-agent stopping"); i >= 0 {
		i = strings.LastIndex(log[:i], "\n") + 1 // from the start of that line
		t.Logf("%s: guest shutdown:\n%s", clones[0].ID, shutdownLines(log[i:]))
	}
	if st, err := d.State(ctx, clones[0].ID); err != nil || st != vm.StateStopped {
		t.Errorf("state after Stop = %s, %v", st, err)
	}
	for _, c := range clones {
		if err := d.Destroy(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	if sha256File(t, snap.MemPath) != memSum {
		t.Error("the snapshot's memory file changed while clones ran from it (they must map it privately)")
	}
	if sha256File(t, snap.DiskPath) != diskSum {
		t.Error("the snapshot's disk layer changed while clones ran on overlays backed by it")
	}
	if fileStamp(t, filepath.Join(image, "rootfs.ext4")) != rootBefore {
		t.Error("the golden rootfs.ext4 was modified")
	}
	for _, dir := range []string{r.runDir, memDir} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("left behind in %s: %v", dir, entries)
		}
	}
}

// readyTimes says when each child became ready, from the agent's report, relative to start. The
// guest's clock is within a second of the host's here (tsc=reliable, RTC at boot).
func readyTimes(rep agent.HealthReport, start time.Time) string {
	var out []string
	for _, c := range rep.Children {
		out = append(out, fmt.Sprintf("%s +%v", c.Name, c.Since.Sub(start).Round(100*time.Millisecond)))
	}
	return strings.Join(out, ", ")
}

// shutdownLines keeps the agent's and the kernel's lines of a guest's shutdown.
func shutdownLines(log string) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "polydev-agent") || strings.Contains(line, "state=stopped") || strings.HasPrefix(line, "[") && strings.Contains(line, "] reboot") {
			out = append(out, "\t"+strings.TrimSpace(line))
		}
	}
	return strings.Join(out, "\n")
}

func browserReady(rep agent.HealthReport) bool {
	return rep.Status == agent.HealthHealthy && rep.Browser && rep.NoVNC
}

// realRig builds specs and talks to the guests of TestRealQEMU.
type realRig struct {
	t      *testing.T
	image  string
	runDir string
}

// realVM is a Spec with its two host forwards: the agent (guest port 3000) and websockify (6080).
type realVM struct {
	vm.Spec
	agentURL string
	vncAddr  string
}

func (r *realRig) spec(id string) realVM {
	agentPort, vncPort := freePort(r.t), freePort(r.t)
	lo := netip.MustParseAddr("127.0.0.1")
	return realVM{
		Spec: vm.Spec{
			ID: id, VCPUs: 2, MemoryMiB: 1024,
			KernelPath:  filepath.Join(r.image, "vmlinux"),
			InitrdPath:  filepath.Join(r.image, "initrd.img"),
			RootImage:   filepath.Join(r.image, "rootfs.ext4"),
			OverlayPath: filepath.Join(r.runDir, vm.Names(id).Overlay),
			SocketDir:   r.runDir,
			Net: vm.Network{User: &vm.UserNet{HostForwards: []vm.HostForward{
				{Host: netip.AddrPortFrom(lo, agentPort), GuestPort: 3000},
				{Host: netip.AddrPortFrom(lo, vncPort), GuestPort: 6080},
			}}},
		},
		agentURL: "http://127.0.0.1:" + strconv.Itoa(int(agentPort)),
		vncAddr:  "127.0.0.1:" + strconv.Itoa(int(vncPort)),
	}
}

// waitHealth polls /health until ok accepts the report, failing the test after budget.
func (r *realRig) waitHealth(ctx context.Context, v realVM, budget time.Duration, ok func(agent.HealthReport) bool) agent.HealthReport {
	r.t.Helper()
	var rep agent.HealthReport
	err := r.poll(ctx, v, budget, ok, &rep)
	if err != nil {
		r.t.Fatalf("%s: %v\n%s", v.ID, err, r.logTail(v))
	}
	return rep
}

func (r *realRig) pollHealth(ctx context.Context, v realVM, budget time.Duration, ok func(agent.HealthReport) bool) error {
	var rep agent.HealthReport
	return r.poll(ctx, v, budget, ok, &rep)
}

// poll asks /health every 100 ms. hostfwd listens as soon as QEMU runs, so only an HTTP answer
// proves the guest is up.
func (r *realRig) poll(ctx context.Context, v realVM, budget time.Duration, ok func(agent.HealthReport) bool, rep *agent.HealthReport) error {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.agentURL+"/health", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(body)
			if resp.StatusCode == http.StatusOK && json.Unmarshal(body, rep) == nil && ok(*rep) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not there within %v; last /health: %s", budget, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// wantVNC opens a WebSocket to websockify through the host forward and reads the VNC server's RFB
// banner from the first binary frame: the host -> websockify -> x11vnc -> Xvfb chain works.
func (r *realRig) wantVNC(v realVM) {
	r.t.Helper()
	conn, err := net.DialTimeout("tcp", v.vncAddr, 5*time.Second)
	if err != nil {
		r.t.Fatalf("%s: websockify: %v", v.ID, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second)) // hang guard, not a timing assertion
	key := make([]byte, 16)
	rand.Read(key)
	fmt.Fprintf(conn, "GET /websockify HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n",
		v.vncAddr, base64.StdEncoding.EncodeToString(key))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		r.t.Fatalf("%s: websockify upgrade: %v %v", v.ID, resp, err)
	}
	hdr := make([]byte, 2)
	if _, err := io.ReadFull(br, hdr); err != nil {
		r.t.Fatalf("%s: websockify frame: %v", v.ID, err)
	}
	n := int(hdr[1] & 0x7f)
	if hdr[0]&0x0f != 2 || n >= 126 {
		r.t.Fatalf("%s: first frame opcode %d, length %d: want a short binary frame", v.ID, hdr[0]&0x0f, n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil || !strings.HasPrefix(string(payload), "RFB 003.") {
		r.t.Fatalf("%s: VNC banner %q, %v", v.ID, payload, err)
	}
}

// wantSync calls the agent's /sync as the controller will after Restore and checks the guest stepped
// its clock to at least the time sent and credited the seed.
func (r *realRig) wantSync(ctx context.Context, v realVM) {
	r.t.Helper()
	seed := make([]byte, agent.SeedLen)
	rand.Read(seed)
	now := time.Now()
	resp, err := agent.Sync(ctx, http.DefaultClient, v.agentURL, now, seed)
	if err != nil {
		r.t.Fatalf("%s: %v", v.ID, err)
	}
	if resp.UnixNanos < now.UnixNano() || resp.Entropy != agent.EntropyCredited {
		r.t.Fatalf("%s: sync = %+v, want the clock at or after %d and the seed credited", v.ID, resp, now.UnixNano())
	}
	r.t.Logf("%s: guest clock was %v behind the host; stepped by /sync, seed %s", v.ID,
		time.Duration(now.UnixNano()-resp.PreviousUnixNanos).Round(time.Millisecond), resp.Entropy)
}

func (r *realRig) pid(v realVM) int {
	b, err := os.ReadFile(filepath.Join(r.runDir, v.Names().PIDFile))
	if err != nil {
		r.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		r.t.Fatal(err)
	}
	return pid
}

func (r *realRig) logTail(v realVM) string {
	b, _ := os.ReadFile(filepath.Join(r.runDir, v.Names().LogFile))
	return string(b[max(0, len(b)-4000):])
}

// procMemory reports a process's RSS and PSS (which splits pages shared with other clones, like the
// snapshot's memory file in the page cache, between them).
func procMemory(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && (f[0] == "Rss:" || f[0] == "Pss:" || f[0] == "Pss_Anon:" || f[0] == "Pss_File:") {
			kib, _ := strconv.Atoi(f[1])
			out = append(out, fmt.Sprintf("%s %d MiB", strings.TrimSuffix(f[0], ":"), kib>>10))
		}
	}
	return strings.Join(out, ", ")
}

func fileSize(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	var used int64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		used = st.Blocks * 512
	}
	return fmt.Sprintf("%d MiB (%d MiB allocated)", fi.Size()>>20, used>>20)
}

func fileStamp(t *testing.T, path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano())
}

func sha256File(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// requireImage skips unless QEMU and a golden image (POLYDEV_VM_IMAGE) are there, and returns the
// QEMU binary and the image directory.
func requireImage(t *testing.T) (bin, image string) {
	t.Helper()
	bin, errQ := exec.LookPath(DefaultBinary)
	image = os.Getenv("POLYDEV_VM_IMAGE")
	switch why := os.Getenv("POLYDEV_VM_IMAGE_ERROR"); {
	case errQ != nil:
		t.Skip("SKIP: qemu-system-x86_64 not installed")
	case why != "":
		t.Skip("SKIP: no golden image: " + why)
	case image == "":
		t.Skip("SKIP: POLYDEV_VM_IMAGE not set (scripts/vmimage.sh builds the image; make test sets it)")
	}
	for _, f := range []string{"vmlinux", "initrd.img", "rootfs.ext4"} {
		if _, err := os.Stat(filepath.Join(image, f)); err != nil {
			t.Fatalf("POLYDEV_VM_IMAGE=%s is not an image directory: %v", image, err)
		}
	}
	return bin, image
}
