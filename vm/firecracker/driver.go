package firecracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/vmproc"
)

// DefaultBootArgs is Firecracker's recommended command line, used when Spec.KernelArgs is empty.
// reboot=k makes a guest reboot (e.g. after Ctrl+Alt+Del) end the Firecracker process, which is how
// Stop shuts a guest down gracefully.
const DefaultBootArgs = "console=ttyS0 reboot=k panic=1 pci=off"

// Drive and interface ids the driver configures.
const (
	RootDriveID    = "rootfs"
	OverlayDriveID = "overlay"
	IfaceID        = "eth0"
)

// Config configures a Driver.
type Config struct {
	// Binary is the firecracker executable, used by the default ExecLauncher.
	Binary string
	// Launcher starts processes; ExecLauncher{Binary: Binary} when nil.
	Launcher Launcher
	// StartTimeout bounds the wait for a new process's API socket. Default 10s.
	StartTimeout time.Duration
	// StopTimeout is how long Stop lets the guest shut down after Ctrl+Alt+Del before killing the
	// process. Default 10s.
	StopTimeout time.Duration
	// Log receives one line per lifecycle event, tagged with the VM id. Discarded when nil.
	Log *slog.Logger
}

// Driver is a vm.Driver backed by Firecracker processes. Operations on one VM are serialised (a Stop
// waiting for the guest blocks that VM's State until it ends); different VMs do not wait for each
// other. Start, Stop, Destroy and State are the shared vmproc.Lifecycle; the Firecracker API calls
// they need are fcVMM's.
type Driver struct {
	cfg Config
	vmproc.Lifecycle[fcx]
}

// fcx is what a Firecracker machine has beyond every VMM's record: its API client.
type fcx struct{ api *Client }

type machine = vmproc.Machine[fcx]

var _ vm.Driver = (*Driver)(nil)

// New returns a Driver. It fails when neither a Binary nor a Launcher is configured.
func New(cfg Config) (*Driver, error) {
	if cfg.Launcher == nil {
		if cfg.Binary == "" {
			return nil, errors.New("firecracker: Config.Binary or Config.Launcher is required")
		}
		cfg.Launcher = ExecLauncher{Binary: cfg.Binary}
	}
	cfg.StartTimeout = cmp.Or(cfg.StartTimeout, 10*time.Second)
	cfg.StopTimeout = cmp.Or(cfg.StopTimeout, 10*time.Second)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	d := &Driver{cfg: cfg}
	d.Lifecycle = vmproc.Lifecycle[fcx]{Name: "firecracker", VMM: fcVMM{d}, StopTimeout: cfg.StopTimeout, Log: cfg.Log}
	return d, nil
}

// Create implements vm.Driver: it starts a Firecracker process and configures machine, boot source,
// drives and network interface, without booting.
func (d *Driver) Create(ctx context.Context, spec vm.Spec) error {
	if err := checkSpec(spec); err != nil {
		return err
	}
	if spec.OverlayPath != "" {
		if _, err := os.Stat(spec.OverlayPath); err != nil {
			return fmt.Errorf("firecracker: the overlay must exist before Create: %w", err)
		}
	}
	m, err := d.VMs.Add(spec)
	if err != nil {
		return err
	}
	defer m.Mu.Unlock()
	if err := d.launch(ctx, m); err != nil {
		d.VMs.Forget(m)
		return err
	}
	if err := configure(ctx, m); err != nil {
		d.VMs.Forget(m)
		return errors.Join(err, d.halt(ctx, m, 0))
	}
	m.State = vm.StateCreated
	d.cfg.Log.Info("firecracker VM created", "vm", spec.ID, "pid", m.Proc.Pid())
	return nil
}

// fcVMM is the Firecracker side of the shared lifecycle: the API's actions.
type fcVMM struct{ d *Driver }

func (v fcVMM) Boot(ctx context.Context, m *machine) error {
	return m.X.api.Action(ctx, ActionInstanceStart)
}

func (v fcVMM) Pause(ctx context.Context, m *machine) error  { return m.X.api.Pause(ctx) }
func (v fcVMM) Resume(ctx context.Context, m *machine) error { return m.X.api.Resume(ctx) }

// ColdBoot starts a stopped VM again: new process, same Spec, same overlay. On failure the new
// process is killed and the VM stays stopped, so Start can be retried.
func (v fcVMM) ColdBoot(ctx context.Context, m *machine) error {
	if err := v.d.launch(ctx, m); err != nil {
		return err
	}
	err := configure(ctx, m)
	if err == nil {
		err = m.X.api.Action(ctx, ActionInstanceStart)
	}
	if err != nil {
		return errors.Join(err, v.d.halt(ctx, m, 0))
	}
	return nil
}

// Powerdown sends Ctrl+Alt+Del; with reboot=k on the guest's command line the guest's reboot ends
// the Firecracker process.
func (v fcVMM) Powerdown(ctx context.Context, m *machine) error {
	return m.X.api.Action(ctx, ActionSendCtrlAltDel)
}

func (v fcVMM) Halt(ctx context.Context, m *machine, grace time.Duration) error {
	return v.d.halt(ctx, m, grace)
}

// Files are the log and the overlay (socket and pid file go with Halt).
func (v fcVMM) Files(m *machine) []string { return []string{m.LogPath(), m.Spec.OverlayPath} }

// Query asks Firecracker (GET /).
func (v fcVMM) Query(ctx context.Context, m *machine) (vm.State, error) {
	info, err := m.X.api.DescribeInstance(ctx)
	if err != nil {
		return m.State, err
	}
	switch info.State {
	case InstanceNotStarted:
		return vm.StateCreated, nil
	case InstanceRunning:
		return vm.StateRunning, nil
	case InstancePaused:
		return vm.StatePaused, nil
	}
	return m.State, fmt.Errorf("firecracker: unknown instance state %q", info.State)
}

// launch starts a process for m and waits for its API socket. A stale socket left by a crashed
// predecessor is removed first: Firecracker refuses to bind over it.
func (d *Driver) launch(ctx context.Context, m *machine) error {
	if err := vmproc.RemoveFiles(m.Spec.SocketPath(), m.PIDPath()); err != nil {
		return err
	}
	proc, err := d.cfg.Launcher.Launch(ctx, LaunchRequest{
		Names:      m.Spec.Names(),
		SocketPath: m.Spec.SocketPath(),
		PIDPath:    m.PIDPath(),
		LogPath:    m.LogPath(),
		Netns:      vmproc.Netns(m.Spec),
	})
	if err != nil {
		return err
	}
	m.Proc, m.X.api, m.Stopping = proc, NewClient(m.Spec.SocketPath()), false
	if err := waitForSocket(ctx, m.Spec.SocketPath(), proc, d.cfg.StartTimeout); err != nil {
		return errors.Join(fmt.Errorf("%w (log: %s)", err, m.LogPath()), d.halt(ctx, m, 0))
	}
	return nil
}

// halt makes sure m's process is gone (after up to grace for it to leave on its own) and removes
// its socket and pid file.
func (d *Driver) halt(ctx context.Context, m *machine, grace time.Duration) error {
	m.Stopping = true
	if m.Proc != nil {
		if err := waitExit(ctx, m.Proc, grace); err != nil {
			return err
		}
	}
	return vmproc.RemoveFiles(m.Spec.SocketPath(), m.PIDPath())
}

func checkSpec(spec vm.Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	if spec.Net.Mode() == vm.NetUser {
		return fmt.Errorf("%w: firecracker has no user-mode networking; use tap", vm.ErrUnsupported)
	}
	return nil
}
