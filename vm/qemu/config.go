package qemu

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/vmproc"
)

// Default binaries, looked up on PATH.
const (
	DefaultBinary    = "qemu-system-x86_64"
	DefaultImgBinary = "qemu-img"
)

// Config configures a Driver. The zero value is usable: TCG unless a KVM probe says otherwise.
type Config struct {
	Binary    string // qemu-system-x86_64 by default; used by the default ExecLauncher
	ImgBinary string // qemu-img by default; makes the overlays

	// Accel is "auto" (default), "kvm" or "tcg". Auto runs Probe once, at the first Create or
	// Restore, with KVMDevice and ProbeBoot; without a ProbeBoot it settles on TCG.
	Accel     Accel
	KVMDevice string    // "/dev/kvm" by default
	ProbeBoot ProbeBoot // boots a throwaway VM under KVM; see Probe

	Launcher Launcher // ExecLauncher{Binary: Binary} when nil
	Runner   Runner   // ExecRunner when nil; runs qemu-img

	// MemoryDir, when set, backs every created VM's RAM with a shared memory file there
	// (memory-backend-file,share=on at MemoryDir/Names(id).MemFile), which makes the VM
	// snapshot-capable: Snapshot then skips RAM in the migration stream (x-ignore-shared) and copies
	// the file instead. Without it Snapshot returns vm.ErrUnsupported. Destroy removes the file.
	MemoryDir string

	StartTimeout time.Duration // bound on the wait for QMP after a launch; default 10s
	// StopTimeout is the grace after system_powerdown before SIGKILL; default 20s. The golden image
	// powers off on the button (agent, children, sync, poweroff): 6-14 s under TCG on a loaded
	// 2-core host (vm/qemu/README.md).
	StopTimeout time.Duration

	// MigrateTimeout bounds a snapshot's or restore's migration, on top of ctx. Default 60s.
	MigrateTimeout time.Duration
	// MigrateBandwidth is the migration speed cap in bytes/s; default 64 GiB/s, i.e. no cap.
	MigrateBandwidth int64

	// HostMHz is the host's CPU frequency for tsc_early_khz under TCG; read from /proc/cpuinfo when
	// zero. A negative value leaves it out.
	HostMHz int

	Log *slog.Logger // one line per lifecycle event, tagged with the VM id; discarded when nil
}

// Driver is a vm.Driver backed by QEMU processes. Operations on one VM are serialised; different VMs
// do not wait for each other. Start, Stop, Destroy and State are the shared vmproc.Lifecycle; the QMP
// commands they need are qemuVMM's.
type Driver struct {
	cfg Config
	vmproc.Lifecycle[qx]

	accelMu sync.Mutex
	accel   Accel // resolved; empty until the first need
}

var _ vm.Driver = (*Driver)(nil)

// New returns a Driver with cfg's defaults filled in.
func New(cfg Config) (*Driver, error) {
	cfg.Binary = cmp.Or(cfg.Binary, DefaultBinary)
	cfg.ImgBinary = cmp.Or(cfg.ImgBinary, DefaultImgBinary)
	cfg.Accel = cmp.Or(cfg.Accel, AccelAuto)
	switch cfg.Accel {
	case AccelAuto, AccelKVM, AccelTCG:
	default:
		return nil, fmt.Errorf("qemu: unknown accelerator %q (want auto, kvm or tcg)", cfg.Accel)
	}
	if cfg.MemoryDir != "" && !filepath.IsAbs(cfg.MemoryDir) {
		return nil, fmt.Errorf("qemu: memory dir %q is not absolute", cfg.MemoryDir)
	}
	if cfg.Launcher == nil {
		cfg.Launcher = ExecLauncher{Binary: cfg.Binary}
	}
	if cfg.Runner == nil {
		cfg.Runner = ExecRunner{}
	}
	cfg.StartTimeout = cmp.Or(cfg.StartTimeout, 10*time.Second)
	cfg.StopTimeout = cmp.Or(cfg.StopTimeout, 20*time.Second)
	cfg.MigrateTimeout = cmp.Or(cfg.MigrateTimeout, 60*time.Second)
	cfg.MigrateBandwidth = cmp.Or(cfg.MigrateBandwidth, 64<<30)
	if cfg.HostMHz == 0 {
		cfg.HostMHz = HostMHz("")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{cfg: cfg}
	d.Lifecycle = vmproc.Lifecycle[qx]{Name: "qemu", VMM: qemuVMM{d}, StopTimeout: cfg.StopTimeout, Log: cfg.Log}
	if cfg.Accel != AccelAuto {
		d.accel = cfg.Accel
	}
	return d, nil
}

// Accel returns the accelerator the Driver uses, probing once when configured "auto".
func (d *Driver) Accel(ctx context.Context) Accel {
	d.accelMu.Lock()
	defer d.accelMu.Unlock()
	if d.accel == "" {
		accel, why := Probe(ctx, d.cfg.KVMDevice, d.cfg.ProbeBoot)
		if why != nil {
			d.cfg.Log.Info("qemu accelerator chosen", "accel", accel, "why", why)
		}
		if ctx.Err() != nil {
			return accel // do not remember a verdict that only a cancelled probe reached
		}
		d.accel = accel
	}
	return d.accel
}
