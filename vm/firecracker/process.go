package firecracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/polydev/polydev/vm"
)

// Process is a running Firecracker process as the Driver sees it.
type Process interface {
	Pid() int
	// Done is closed once the process has exited and been reaped.
	Done() <-chan struct{}
	// Kill sends SIGKILL. Killing a process that has already exited is not an error.
	Kill() error
}

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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.Binary == "" {
		return nil, errors.New("firecracker: no binary configured")
	}
	name, args := l.command(req)
	logf, err := os.OpenFile(req.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("firecracker: open log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("firecracker: start %s: %w", name, err)
	}
	p := &execProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status is in the log; callers only need to know it ended
		close(p.done)
	}()
	if err := os.WriteFile(req.PIDPath, []byte(strconv.Itoa(p.Pid())+"\n"), 0o600); err != nil {
		_ = p.Kill()
		<-p.done
		return nil, fmt.Errorf("firecracker: write pid file: %w", err)
	}
	return p, nil
}

// command returns the program and arguments that start Firecracker for req.
func (l ExecLauncher) command(req LaunchRequest) (string, []string) {
	args := []string{"--api-sock", req.SocketPath, "--id", req.Names.Process}
	if req.Netns == "" {
		return l.Binary, args
	}
	return cmp.Or(l.IPPath, "ip"), append([]string{"netns", "exec", req.Netns, l.Binary}, args...)
}

type execProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *execProcess) Pid() int              { return p.cmd.Process.Pid }
func (p *execProcess) Done() <-chan struct{} { return p.done }

func (p *execProcess) Kill() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
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

// waitExit waits until proc has exited, up to grace (or ctx's end), then kills it and waits up to
// killWait for the kernel to let it go.
func waitExit(ctx context.Context, proc Process, grace time.Duration) error {
	const killWait = 5 * time.Second
	if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-proc.Done():
			t.Stop()
			return nil
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if err := proc.Kill(); err != nil {
		return fmt.Errorf("firecracker: kill pid %d: %w", proc.Pid(), err)
	}
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-proc.Done():
		return nil
	case <-t.C:
		return fmt.Errorf("firecracker: pid %d still alive %v after SIGKILL", proc.Pid(), killWait)
	}
}
