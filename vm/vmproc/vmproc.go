// Package vmproc starts and stops VMM processes (QEMU, Firecracker) the same way for every driver:
// in their own process group (a Ctrl+C at the controller's terminal does not reach the VMs, which
// outlive a crashed controller until its successor reclaims them), inside the VM's network namespace
// when it has one (`ip netns exec`, which execs in place so the pid is the VMM's), with output
// appended to a log file and the pid written to a pid file named from the VM id. Lifecycle is the
// state machine both drivers share (start, stop, destroy, state, the pause around a snapshot) over a
// Registry of per-VM records; each driver supplies its VMM's few operations (VMM). vmproc itself knows
// nothing of any VMM's API.
package vmproc

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
)

// Process is a running VMM process as a driver sees it.
type Process interface {
	Pid() int
	// Done is closed once the process has exited and been reaped.
	Done() <-chan struct{}
	// Kill sends SIGKILL. Killing a process that has already exited is not an error.
	Kill() error
}

// Command says what to start.
type Command struct {
	Name    string   // for error messages: "qemu", "firecracker"
	Binary  string   // the VMM binary
	Args    []string // its arguments
	Netns   string   // run inside this network namespace; empty for the host's
	IPPath  string   // ip(8) for `ip netns exec`; "ip" when empty
	PIDPath string   // written with the pid once the process runs
	LogPath string   // stdout and stderr, appended
}

// Argv returns the program and arguments that run c: the binary itself, or `ip netns exec NS binary
// ...` for a VM with a network namespace.
func (c Command) Argv() (string, []string) {
	if c.Netns == "" {
		return c.Binary, c.Args
	}
	return cmp.Or(c.IPPath, "ip"), append([]string{"netns", "exec", c.Netns, c.Binary}, c.Args...)
}

// Start starts c. ctx only bounds the start; the process outlives it.
func Start(ctx context.Context, c Command) (Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.Binary == "" {
		return nil, fmt.Errorf("%s: no binary configured", c.Name)
	}
	name, args := c.Argv()
	logf, err := os.OpenFile(c.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", c.Name, err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", c.Name, name, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status is in the log; callers only need to know it ended
		close(p.done)
	}()
	if err := os.WriteFile(c.PIDPath, []byte(strconv.Itoa(p.Pid())+"\n"), 0o600); err != nil {
		_ = p.Kill()
		<-p.done
		return nil, fmt.Errorf("%s: write pid file: %w", c.Name, err)
	}
	return p, nil
}

type process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *process) Pid() int              { return p.cmd.Process.Pid }
func (p *process) Done() <-chan struct{} { return p.done }

func (p *process) Kill() error {
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

// WaitExit waits until proc has exited, up to grace (or ctx's end), then kills it and waits up to
// five seconds for the kernel to let it go. name prefixes errors.
func WaitExit(ctx context.Context, proc Process, grace time.Duration, name string) error {
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
		return fmt.Errorf("%s: kill pid %d: %w", name, proc.Pid(), err)
	}
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-proc.Done():
		return nil
	case <-t.C:
		return fmt.Errorf("%s: pid %d still alive %v after SIGKILL", name, proc.Pid(), killWait)
	}
}
