package qemu

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/polydev/polydev/vm"
)

// Process is a running QEMU process as the Driver sees it.
type Process interface {
	Pid() int
	// Done is closed once the process has exited and been reaped.
	Done() <-chan struct{}
	// Kill sends SIGKILL. Killing a process that has already exited is not an error.
	Kill() error
}

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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name, args := l.command(req)
	logf, err := os.OpenFile(req.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("qemu: open log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: start %s: %w", name, err)
	}
	p := &execProcess{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status is in the log; callers only need to know it ended
		close(p.done)
	}()
	if err := os.WriteFile(req.PIDPath, []byte(strconv.Itoa(p.Pid())+"\n"), 0o600); err != nil {
		_ = p.Kill()
		<-p.done
		return nil, fmt.Errorf("qemu: write pid file: %w", err)
	}
	return p, nil
}

// command returns the program and arguments that start QEMU for req.
func (l ExecLauncher) command(req LaunchRequest) (string, []string) {
	bin := cmp.Or(l.Binary, DefaultBinary)
	if req.Netns == "" {
		return bin, req.Args
	}
	return cmp.Or(l.IPPath, "ip"), append([]string{"netns", "exec", req.Netns, bin}, req.Args...)
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
		return fmt.Errorf("qemu: kill pid %d: %w", proc.Pid(), err)
	}
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-proc.Done():
		return nil
	case <-t.C:
		return fmt.Errorf("qemu: pid %d still alive %v after SIGKILL", proc.Pid(), killWait)
	}
}
