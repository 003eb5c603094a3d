package firecracker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/vmproc"
)

// Process is a running VMM process (see package vmproc).
type Process = vmproc.Process

// LaunchRequest is what a Launcher needs to start one Firecracker process. All paths are absolute
// and named by vm.Names, so a controller restarted after a crash can find and remove them.
type LaunchRequest struct {
	Names      vm.ResourceNames
	SocketPath string // --api-sock; must not exist when the process starts
	PIDPath    string // written with the pid once the process runs
	LogPath    string // stdout and stderr, appended
	Netns      string // run inside this network namespace; empty for the host's
}

// Launcher starts Firecracker processes. ExecLauncher is the real one; tests substitute their own.
type Launcher interface {
	Launch(ctx context.Context, req LaunchRequest) (Process, error)
}

// ExecLauncher runs the firecracker binary directly: `firecracker --api-sock S --id pdvm-<key>`, or
// `ip netns exec NS firecracker ...` when the VM has a namespace (ip execs in place, so the pid is
// Firecracker's). The --id makes the process findable by name after a controller crash.
//
// The process is put in its own process group, so a Ctrl+C at the controller's terminal does not
// reach the VMs; VMs therefore outlive a crashed controller until its successor reclaims them.
// Production hosts should run Firecracker under its jailer (chroot, cgroups, seccomp, dropped
// privileges); that belongs here as another Launcher.
type ExecLauncher struct {
	Binary string // path of the firecracker binary
	IPPath string // path of ip(8) for `ip netns exec`; "ip" when empty
}

// Launch implements Launcher. ctx only bounds the start; the process outlives it.
func (l ExecLauncher) Launch(ctx context.Context, req LaunchRequest) (Process, error) {
	return vmproc.Start(ctx, l.command(req))
}

// command is how req is started: `firecracker --api-sock S --id pdvm-<key>` (the --id makes the
// process findable by name after a controller crash).
func (l ExecLauncher) command(req LaunchRequest) vmproc.Command {
	return vmproc.Command{
		Name: "firecracker", Binary: l.Binary, Args: []string{"--api-sock", req.SocketPath, "--id", req.Names.Process},
		Netns: req.Netns, IPPath: l.IPPath, PIDPath: req.PIDPath, LogPath: req.LogPath,
	}
}

// waitForSocket polls until the API socket accepts connections, the process exits, ctx ends or
// timeout passes.
func waitForSocket(ctx context.Context, socket string, proc Process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var d net.Dialer
		if c, err := d.DialContext(ctx, "unix", socket); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-proc.Done():
			return errors.New("firecracker: process exited before its API socket appeared (see its log)")
		case <-ctx.Done():
			return fmt.Errorf("firecracker: API socket %s not ready: %w", socket, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitExit waits for proc to exit, killing it after grace.
func waitExit(ctx context.Context, proc Process, grace time.Duration) error {
	return vmproc.WaitExit(ctx, proc, grace, "firecracker")
}
