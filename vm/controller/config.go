package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/egress"
	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/netpool"
)

// Store is what the controller reads and writes: VM records and the tier table (for MaxVMs).
type Store interface {
	polydev.VMStore
	polydev.TierStore
}

// Image is the golden image VMs boot from, and where its snapshot lives.
type Image struct {
	KernelPath string // uncompressed vmlinux or bzImage
	InitrdPath string // optional initramfs
	RootImage  string // golden root filesystem, never written
	KernelArgs string // empty: the driver's default
	// ID is the image's content hash (polydev image build's recipe hash, which covers the agent
	// binary); part of the golden snapshot's key with the image files' sizes and times.
	ID string
	// SnapshotDir is the root of the saved golden snapshots (conventionally <data>/snapshots), one
	// directory per key (image, hypervisor, machine configuration), kept across restarts and
	// pruned at start when no VM uses it. It belongs to one server. Empty: no snapshot, every VM
	// cold-boots.
	SnapshotDir string
}

// DialFunc opens a connection to a guest port of one VM.
type DialFunc func(ctx context.Context, port uint16) (net.Conn, error)

// Config configures a Controller. Zero durations get the defaults noted.
type Config struct {
	Store      Store     // required
	Driver     vm.Driver // required
	DriverName string    // recorded in VM.Driver: "qemu" or "firecracker"

	// NetMode is vm.NetUser (default: QEMU host forwards on 127.0.0.1) or vm.NetTAP (Pool and
	// Network required).
	NetMode vm.NetMode
	Pool    *netpool.Pool
	Network Network

	// Egress, when set, is every VM's way out and its only one: in user mode a guestfwd at
	// egress.GuestAddr runs EgressPipe and the VM's socket (RunDir/vm.Names(id).Egress) for each
	// guest connection, and restrict=on drops everything else; in tap mode the VM's listener opens
	// inside its namespace (Network must be an EgressNetwork; configure vm/netns with the address
	// and DenyEgress). The controller serves and closes each VM's listener; sessions bind to it.
	Egress *egress.Proxy
	// EgressPipe is the program and arguments QEMU runs per guest connection, before the socket
	// path: `polydev egress-pipe` (the running binary). Required with Egress in user mode.
	EgressPipe []string

	Image     Image
	VCPUs     int // default 2
	MemoryMiB int // default 1024

	// RunDir holds per-VM sockets, pid files and logs (short: unix socket paths are limited);
	// VMDir holds overlays and memory files. Both are created at Start and scanned by the reconciler.
	RunDir string
	VMDir  string

	WarmPool int // restored VMs kept ready for hand-out; default 0

	HealthTimeout time.Duration // bound on the wait for the agent's /health; default 90s
	HealthPoll    time.Duration // between /health probes; default 250ms

	// GoldenSettle bounds how long the golden VM may keep settling after it is healthy and before
	// it is snapshotted: Chromium keeps a vCPU busy for minutes after start under TCG, and every
	// clone of a snapshot taken too early replays that (measured: 60 % of a core per idle clone for
	// minutes, against about 5 % once settled). The wait ends early once the hypervisor's CPU use
	// over GoldenWindow is at most GoldenIdle of one core. 0: snapshot as soon as it is healthy.
	GoldenSettle time.Duration
	GoldenIdle   float64       // default 0.15 (15 % of one core)
	GoldenWindow time.Duration // default 5s
	// CPUTime reports the CPU time process pid has used; default reads /proc/<pid>/stat.
	CPUTime func(pid int) (time.Duration, error)
	// Health reports nil once the guest behind dial is ready. Default: GET /health on VMPortAgent
	// answers status "healthy". Tests replace it.
	Health func(ctx context.Context, dial DialFunc) error
	// AfterRestore runs after every successful Restore, before the health wait (the agent's clock
	// and entropy refresh). An error makes the restore count as failed. Nil: nothing.
	AfterRestore func(ctx context.Context, id string, dial DialFunc) error

	IdleTimeout     time.Duration // running VMs idle this long are stopped; default 1h
	ReapInterval    time.Duration // default 5m
	MonitorInterval time.Duration // pool and state gauges; default 1m
	// RebuildInterval runs Rebuild and then refreshes the golden snapshot; default a week, negative
	// or no Rebuild: off.
	RebuildInterval time.Duration
	// Rebuild rebuilds the golden image. A non-nil Image replaces Config.Image for later boots; nil
	// keeps the image and only refreshes the snapshot.
	Rebuild func(ctx context.Context) (*Image, error)

	Processes Processes // hypervisor processes on the host; default: /proc scan scoped to RunDir

	Log   *slog.Logger
	Now   func() time.Time
	NewID func() string
}

func (c *Config) setDefaults() error {
	if c.Store == nil || c.Driver == nil {
		return errors.New("controller: Store and Driver are required")
	}
	c.NetMode = cmp.Or(c.NetMode, vm.NetUser)
	switch c.NetMode {
	case vm.NetUser:
		if c.Egress != nil && (len(c.EgressPipe) == 0 || !filepath.IsAbs(c.EgressPipe[0])) {
			return errors.New("controller: user networking with an egress proxy needs EgressPipe, an absolute program path")
		}
	case vm.NetTAP:
		if c.Pool == nil || c.Network == nil {
			return errors.New("controller: tap networking needs a Pool and a Network")
		}
		if _, ok := c.Network.(EgressNetwork); c.Egress != nil && !ok {
			return errors.New("controller: tap networking with an egress proxy needs a Network that can Listen in a VM's namespace")
		}
	default:
		return fmt.Errorf("controller: network mode %q is not user or tap", c.NetMode)
	}
	if c.RunDir == "" || c.VMDir == "" || !filepath.IsAbs(c.RunDir) || !filepath.IsAbs(c.VMDir) {
		return errors.New("controller: RunDir and VMDir must be absolute paths")
	}
	if c.Image.SnapshotDir != "" && !filepath.IsAbs(c.Image.SnapshotDir) {
		return errors.New("controller: Image.SnapshotDir must be absolute")
	}
	if c.WarmPool < 0 {
		return errors.New("controller: WarmPool must be >= 0")
	}
	c.DriverName = cmp.Or(c.DriverName, "qemu")
	c.VCPUs = cmp.Or(c.VCPUs, 2)
	c.MemoryMiB = cmp.Or(c.MemoryMiB, 1024)
	c.HealthTimeout = cmp.Or(c.HealthTimeout, 90*time.Second)
	c.HealthPoll = cmp.Or(c.HealthPoll, 250*time.Millisecond)
	c.GoldenIdle = cmp.Or(c.GoldenIdle, 0.15)
	c.GoldenWindow = cmp.Or(c.GoldenWindow, 5*time.Second)
	if c.CPUTime == nil {
		c.CPUTime = procCPUTime
	}
	if c.Health == nil {
		c.Health = func(ctx context.Context, dial DialFunc) error { return agentHealthy(ctx, dial, c.HealthPoll) }
	}
	c.IdleTimeout = cmp.Or(c.IdleTimeout, time.Hour)
	c.ReapInterval = cmp.Or(c.ReapInterval, 5*time.Minute)
	c.MonitorInterval = cmp.Or(c.MonitorInterval, time.Minute)
	c.RebuildInterval = cmp.Or(c.RebuildInterval, 7*24*time.Hour)
	if c.Processes == nil {
		c.Processes = ProcTable{Root: "/proc", RunDir: c.RunDir}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	c.Log = c.Log.With("service", "vm-controller")
	if c.Now == nil {
		c.Now = polydev.Now
	}
	if c.NewID == nil {
		c.NewID = polydev.NewID
	}
	return nil
}
