package firecracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/polydev/polydev/vm"
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
// other.
type Driver struct {
	cfg Config
	mu  sync.Mutex
	vms map[string]*machine
}

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
	return &Driver{cfg: cfg, vms: map[string]*machine{}}, nil
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
	m, err := d.add(spec)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	if err := d.launch(ctx, m); err != nil {
		d.forget(m)
		return err
	}
	if err := m.configure(ctx); err != nil {
		d.forget(m)
		return errors.Join(err, d.halt(ctx, m, 0))
	}
	m.state = vm.StateCreated
	d.cfg.Log.Info("firecracker VM created", "vm", spec.ID, "pid", m.proc.Pid())
	return nil
}

// Start implements vm.Driver.
func (d *Driver) Start(ctx context.Context, id string) error {
	m, err := d.lock(id)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	switch m.observe() {
	case vm.StateRunning:
		return nil
	case vm.StateCreated:
		if err := m.api.Action(ctx, ActionInstanceStart); err != nil {
			return err
		}
	case vm.StatePaused:
		if err := m.api.Resume(ctx); err != nil {
			return err
		}
	case vm.StateStopped:
		if err := d.coldBoot(ctx, m); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: cannot start VM %s in state %s", vm.ErrInvalidState, id, m.state)
	}
	m.state = vm.StateRunning
	d.cfg.Log.Info("firecracker VM running", "vm", id)
	return nil
}

// coldBoot starts a stopped VM again: new process, same Spec, same overlay. On failure the new
// process is killed and the VM stays stopped, so Start can be retried.
func (d *Driver) coldBoot(ctx context.Context, m *machine) error {
	if err := d.launch(ctx, m); err != nil {
		return err
	}
	err := m.configure(ctx)
	if err == nil {
		err = m.api.Action(ctx, ActionInstanceStart)
	}
	if err != nil {
		return errors.Join(err, d.halt(ctx, m, 0))
	}
	return nil
}

// Stop implements vm.Driver: Ctrl+Alt+Del, up to StopTimeout (or ctx's end) for the guest to go, then
// SIGKILL. A created VM has no guest yet and is killed at once.
func (d *Driver) Stop(ctx context.Context, id string) error {
	m, err := d.lock(id)
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	switch m.observe() {
	case vm.StateStopped:
		return nil
	case vm.StateFailed:
		return fmt.Errorf("%w: VM %s has failed; destroy it", vm.ErrInvalidState, id)
	case vm.StateCreated:
		if err := d.halt(ctx, m, 0); err != nil {
			return err
		}
	case vm.StatePaused, vm.StateRunning:
		if m.state == vm.StatePaused {
			if err := m.api.Resume(ctx); err != nil { // a paused guest cannot see Ctrl+Alt+Del
				d.cfg.Log.Warn("firecracker resume before stop failed", "vm", id, "err", err)
			}
		}
		m.stopping = true
		if err := m.api.Action(ctx, ActionSendCtrlAltDel); err != nil {
			d.cfg.Log.Warn("firecracker Ctrl+Alt+Del failed; killing", "vm", id, "err", err)
		}
		if err := d.halt(ctx, m, d.cfg.StopTimeout); err != nil {
			return err
		}
	}
	m.state = vm.StateStopped
	d.cfg.Log.Info("firecracker VM stopped", "vm", id)
	return nil
}

// Destroy implements vm.Driver: kill, then remove socket, pid file, log and overlay.
func (d *Driver) Destroy(ctx context.Context, id string) error {
	m, err := d.lock(id)
	if errors.Is(err, vm.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer m.mu.Unlock()
	if err := d.halt(ctx, m, 0); err != nil {
		m.state = vm.StateFailed
		return err
	}
	if err := removeFiles(m.logPath(), m.spec.OverlayPath); err != nil {
		m.state = vm.StateFailed // kept, so that Destroy can be retried
		return err
	}
	d.forget(m)
	d.cfg.Log.Info("firecracker VM destroyed", "vm", id)
	return nil
}

// State implements vm.Driver, asking Firecracker (GET /) while its process is alive.
func (d *Driver) State(ctx context.Context, id string) (vm.State, error) {
	m, err := d.lock(id)
	if err != nil {
		return "", err
	}
	defer m.mu.Unlock()
	if st := m.observe(); st == vm.StateStopped || st == vm.StateFailed {
		return st, nil
	}
	info, err := m.api.DescribeInstance(ctx)
	if err != nil {
		return m.state, err
	}
	switch info.State {
	case InstanceNotStarted:
		m.state = vm.StateCreated
	case InstanceRunning:
		m.state = vm.StateRunning
	case InstancePaused:
		m.state = vm.StatePaused
	default:
		return m.state, fmt.Errorf("firecracker: unknown instance state %q", info.State)
	}
	return m.state, nil
}

// launch starts a process for m and waits for its API socket. A stale socket left by a crashed
// predecessor is removed first: Firecracker refuses to bind over it.
func (d *Driver) launch(ctx context.Context, m *machine) error {
	if err := removeFiles(m.spec.SocketPath(), m.pidPath()); err != nil {
		return err
	}
	proc, err := d.cfg.Launcher.Launch(ctx, LaunchRequest{
		Names:      m.spec.Names(),
		SocketPath: m.spec.SocketPath(),
		PIDPath:    m.pidPath(),
		LogPath:    m.logPath(),
		Netns:      netns(m.spec),
	})
	if err != nil {
		return err
	}
	m.proc, m.api, m.stopping = proc, NewClient(m.spec.SocketPath()), false
	if err := waitForSocket(ctx, m.spec.SocketPath(), proc, d.cfg.StartTimeout); err != nil {
		return errors.Join(fmt.Errorf("%w (log: %s)", err, m.logPath()), d.halt(ctx, m, 0))
	}
	return nil
}

// halt makes sure m's process is gone (after up to grace for it to leave on its own) and removes
// its socket and pid file.
func (d *Driver) halt(ctx context.Context, m *machine, grace time.Duration) error {
	m.stopping = true
	if m.proc != nil {
		if err := waitExit(ctx, m.proc, grace); err != nil {
			return err
		}
	}
	return removeFiles(m.spec.SocketPath(), m.pidPath())
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

func netns(spec vm.Spec) string {
	if spec.Net.TAP != nil {
		return spec.Net.TAP.Netns
	}
	return ""
}
