// Command vm measures browser microVMs on this host through the real controller (vm/controller) and
// QEMU driver: cold boot until the agent is healthy, golden snapshot, restore until healthy,
// warm-pool hand-out, memory (RSS and PSS) per VM, idle CPU per VM, and how many idle VMs fit in the
// memory left. It writes a Markdown report; see README.md.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/store/sqlite"
	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/controller"
	"github.com/polydev/polydev/vm/qemu"
)

type options struct {
	image        string
	clones       int
	idle         time.Duration
	settle       time.Duration
	goldenSettle time.Duration
	out          string
	timeout      time.Duration
	verbose      bool
	frames       int
	polydev      string
	data         string
	raw          bool
	route        string
	target       string
}

func main() {
	var o options
	flag.StringVar(&o.image, "image", os.Getenv("POLYDEV_VM_IMAGE"), "golden image directory (vmlinux, initrd.img, rootfs.ext4)")
	flag.IntVar(&o.clones, "clones", 3, "VMs restored from the snapshot and kept running together")
	flag.DurationVar(&o.idle, "idle", 20*time.Second, "window over which idle CPU is measured")
	flag.DurationVar(&o.goldenSettle, "golden-settle", 3*time.Minute, "bound on the golden VM's settling before its snapshot (as serve's POLYDEV_VM_GOLDEN_SETTLE)")
	flag.DurationVar(&o.settle, "settle", 60*time.Second, "wait after the VMs are ready before measuring idle CPU (Chromium settles after start)")
	flag.StringVar(&o.out, "out", "", "report file (default bench/vm/results/vm-<time>.md)")
	flag.DurationVar(&o.timeout, "boot-timeout", 5*time.Minute, "bound on one boot until healthy")
	flag.BoolVar(&o.verbose, "v", false, "controller logs on stderr")
	flag.IntVar(&o.frames, "frames", 0, "viewer benchmark instead: N rounds of create → first frame through polydev serve (see frame.go)")
	flag.StringVar(&o.polydev, "polydev", "", "with -frames: the polydev binary (default: go build ./cmd/polydev)")
	flag.StringVar(&o.data, "data", "", "with -frames: data directory to use and keep (a saved golden snapshot in it is reused); default a temporary one")
	flag.BoolVar(&o.raw, "raw", false, "with -frames: ask the viewer for Raw pixels instead of Zlib")
	flag.StringVar(&o.route, "route", "session", "with -frames: session (POST /api/auth/session {targetUrl}) or vms (POST /api/vms)")
	// The default target is refused by the egress proxy (loopback is never a destination), so the
	// guest's browser shows an error page and nothing leaves the machine.
	flag.StringVar(&o.target, "target", "https://127.0.0.1:9/", "with -frames -route session: the session's targetUrl")
	flag.Parse()
	if o.route != "session" && o.route != "vms" {
		fmt.Fprintln(os.Stderr, "bench/vm: -route must be session or vms")
		os.Exit(2)
	}
	run := run
	if o.frames > 0 {
		run = runFrames
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench/vm:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.image == "" {
		return errors.New("no image: pass -image or set POLYDEV_VM_IMAGE (scripts/vmimage.sh builds one)")
	}
	bin, err := exec.LookPath(qemu.DefaultBinary)
	if err != nil {
		return err
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("/tmp", "pdbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "polydev.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := &polydev.User{ID: polydev.NewID(), Email: "bench@example.com", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Role: polydev.RoleUser, Tier: polydev.TierEnterprise, CreatedAt: now, UpdatedAt: now}
	if err := db.CreateUser(ctx, u); err != nil {
		return err
	}
	logOut := io.Discard
	if o.verbose {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	b := &bench{o: o, dir: dir, db: db, user: u, qemu: bin, log: log}
	r := &report{opts: o, host: hostInfo()}

	fmt.Fprintln(os.Stderr, "cold boot ...")
	if err := b.cold(ctx, r); err != nil {
		return fmt.Errorf("cold boot: %w", err)
	}
	fmt.Fprintln(os.Stderr, "golden snapshot and restores ...")
	if err := b.restores(ctx, r); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintln(os.Stderr, "warm pool ...")
	if err := b.warm(ctx, r); err != nil {
		return fmt.Errorf("warm pool: %w", err)
	}
	out := o.out
	if out == "" {
		out = filepath.Join("bench", "vm", "results", "vm-"+time.Now().UTC().Format("20060102-150405")+".md")
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	md := r.markdown()
	fmt.Print(md)
	return os.WriteFile(out, []byte(md), 0o644)
}

type bench struct {
	o    options
	dir  string
	db   controller.Store
	user *polydev.User
	qemu string
	log  *slog.Logger
	n    int
}

// controller builds a controller with its own run and VM directories under the bench directory.
func (b *bench) controller(ctx context.Context, snapshotDir string, warm int) (*controller.Controller, string, error) {
	b.n++
	base := filepath.Join(b.dir, strconv.Itoa(b.n))
	runDir, vmDir := filepath.Join(base, "run"), filepath.Join(base, "vms")
	// StartServices would make these, but it also starts the background boot loop, which would
	// compete with the boots being timed: the bench drives PrepareGolden and FillWarm itself.
	for _, d := range []string{runDir, vmDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, "", err
		}
	}
	d, err := qemu.New(qemu.Config{Binary: b.qemu, Accel: qemu.AccelTCG, MemoryDir: vmDir, StartTimeout: 60 * time.Second})
	if err != nil {
		return nil, "", err
	}
	c, err := controller.New(controller.Config{
		Store: b.db, Driver: d, DriverName: "qemu", NetMode: vm.NetUser,
		Image: controller.Image{
			KernelPath: filepath.Join(b.o.image, "vmlinux"), InitrdPath: filepath.Join(b.o.image, "initrd.img"),
			RootImage: filepath.Join(b.o.image, "rootfs.ext4"), SnapshotDir: snapshotDir,
		},
		RunDir: runDir, VMDir: vmDir, WarmPool: warm, HealthTimeout: b.o.timeout, HealthPoll: 100 * time.Millisecond,
		RebuildInterval: -1, Log: b.log, AfterRestore: controller.SyncGuest, GoldenSettle: b.o.goldenSettle,
	})
	if err != nil {
		return nil, "", err
	}
	return c, runDir, nil
}

func (b *bench) cold(ctx context.Context, r *report) error {
	c, runDir, err := b.controller(ctx, "", 0)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	began := time.Now()
	v, err := c.Create(ctx, b.user, polydev.VMBrowser)
	if err != nil {
		return err
	}
	r.coldBoot = time.Since(began)
	procs := qemuProcs(runDir)
	r.coldMem = memOf(procs)
	time.Sleep(b.o.settle)
	r.coldIdleCPU = idleCPU(procs, b.o.idle)
	return c.Delete(ctx, b.user, v.ID)
}

func (b *bench) restores(ctx context.Context, r *report) error {
	snap := filepath.Join(b.dir, "snapshot")
	c, runDir, err := b.controller(ctx, snap, 0)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	began := time.Now()
	if err := c.PrepareGolden(ctx); err != nil {
		return err
	}
	r.golden = time.Since(began)
	availBefore := memAvailable()
	var ids []string
	for range b.o.clones {
		began := time.Now()
		v, err := c.Create(ctx, b.user, polydev.VMBrowser)
		if err != nil {
			return err
		}
		r.restore = append(r.restore, time.Since(began))
		ids = append(ids, v.ID)
	}
	procs := qemuProcs(runDir)
	r.cloneMem = memOf(procs)
	r.availBefore, r.availAfter = availBefore, memAvailable()
	time.Sleep(b.o.settle)
	r.cloneIdleCPU = idleCPU(procs, b.o.idle)
	for _, id := range ids {
		if err := c.Delete(ctx, b.user, id); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) warm(ctx context.Context, r *report) error {
	c, _, err := b.controller(ctx, filepath.Join(b.dir, "snapshot"), 1) // the snapshot made above
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	if err := c.PrepareGolden(ctx); err != nil {
		return err
	}
	if err := c.FillWarm(ctx); err != nil {
		return err
	}
	began := time.Now()
	v, err := c.Create(ctx, b.user, polydev.VMBrowser)
	if err != nil {
		return err
	}
	r.warmHandOut = time.Since(began)
	return c.Delete(ctx, b.user, v.ID)
}

// qemuProcs returns the pids of hypervisors whose command line names a path under runDir.
func qemuProcs(runDir string) []int {
	var pids []int
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range entries {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), runDir+"/") || !strings.Contains(string(b), "qemu-system") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// mem is memory per process, in MiB: resident and proportional (shared pages split between users).
type mem struct{ rss, pss []float64 }

func memOf(pids []int) mem {
	var m mem
	for _, pid := range pids {
		f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 {
				continue
			}
			kb, _ := strconv.ParseFloat(fields[1], 64)
			switch fields[0] {
			case "Rss:":
				m.rss = append(m.rss, kb/1024)
			case "Pss:":
				m.pss = append(m.pss, kb/1024)
			}
		}
		f.Close()
	}
	return m
}

// idleCPU returns each process's CPU use over window, as a percentage of one core.
func idleCPU(pids []int, window time.Duration) []float64 {
	before := make([]float64, len(pids))
	for i, pid := range pids {
		before[i] = cpuSeconds(pid)
	}
	time.Sleep(window)
	out := make([]float64, len(pids))
	for i, pid := range pids {
		out[i] = 100 * (cpuSeconds(pid) - before[i]) / window.Seconds()
	}
	return out
}

// cpuSeconds is utime+stime of pid from /proc/<pid>/stat (clock ticks of 1/100 s on Linux).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(fields[11], 64)
	st, _ := strconv.ParseFloat(fields[12], 64)
	return (ut + st) / 100
}

// memAvailable is MemAvailable from /proc/meminfo in MiB.
func memAvailable() float64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func hostInfo() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%d cores (%s), %.0f MiB available, load %s, QEMU TCG", runtime.NumCPU(), model, memAvailable(),
		strings.Join(strings.Fields(string(load))[:3], " "))
}
