package qemu

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/vmproc"
)

// Process is a running VMM process (see package vmproc).
type Process = vmproc.Process

// LaunchRequest is what a Launcher needs to start one QEMU process. Paths are absolute and named by
// vm.Names, so a controller restarted after a crash can find and remove them.
type LaunchRequest struct {
	Names      vm.ResourceNames
	Args       []string // QEMU's arguments, from Args
	SocketPath string   // the QMP socket named in Args; must not exist when the process starts
	PIDPath    string   // written with the pid once the process runs
	LogPath    string   // stdout (the guest console) and stderr, appended
	Netns      string   // run inside this network namespace; empty for the host's
}

// Launcher starts QEMU processes. ExecLauncher is the real one; tests substitute their own.
type Launcher interface {
	Launch(ctx context.Context, req LaunchRequest) (Process, error)
}

// ExecLauncher runs the QEMU binary directly, or through `ip netns exec NS` when the VM has a
// namespace (ip execs in place, so the pid is QEMU's). The process gets its own process group, so a
// Ctrl+C at the controller's terminal does not reach the VMs; a VM therefore outlives a crashed
// controller until its successor reclaims it by its -name process tag and pid file.
type ExecLauncher struct {
	Binary string // qemu-system-x86_64 when empty (looked up on PATH)
	IPPath string // ip(8) for `ip netns exec`; "ip" when empty
}

// Launch implements Launcher. ctx only bounds the start; the process outlives it.
func (l ExecLauncher) Launch(ctx context.Context, req LaunchRequest) (Process, error) {
	return vmproc.Start(ctx, l.command(req))
}

// command is how req is started.
func (l ExecLauncher) command(req LaunchRequest) vmproc.Command {
	return vmproc.Command{
		Name: "qemu", Binary: cmp.Or(l.Binary, DefaultBinary), Args: req.Args,
		Netns: req.Netns, IPPath: l.IPPath, PIDPath: req.PIDPath, LogPath: req.LogPath,
	}
}

// dialQMP polls until the QMP socket accepts a connection and negotiates capabilities, the process
// exits, ctx ends or timeout passes.
func dialQMP(ctx context.Context, socket string, proc Process, timeout time.Duration) (*Client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(socket); err == nil {
			c, err := Dial(ctx, socket)
			if err == nil {
				return c, nil
			}
			if ctx.Err() != nil {
				return nil, err
			}
		}
		select {
		case <-proc.Done():
			return nil, errors.New("qemu: process exited before its QMP socket answered (see its log)")
		case <-ctx.Done():
			return nil, fmt.Errorf("qemu: QMP socket %s not ready: %w", socket, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitExit waits for proc to exit, killing it after grace.
func waitExit(ctx context.Context, proc Process, grace time.Duration) error {
	return vmproc.WaitExit(ctx, proc, grace, "qemu")
}
