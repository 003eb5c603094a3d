package controller

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/polydev/polydev/vm"
)

// Process is a hypervisor process found on the host, with the key (vm.Names(id).Key) of its VM.
type Process struct {
	PID int
	Key string
}

// Processes finds and kills hypervisor processes for the reconciler.
type Processes interface {
	// List returns the hypervisor processes of this controller that exist now.
	List(ctx context.Context) ([]Process, error)
	// Kill ends process pid (SIGKILL) and waits briefly for it to go.
	Kill(ctx context.Context, pid int) error
}

// ProcTable finds hypervisor processes by their command line in a /proc tree: a process is this
// controller's when one argument contains RunDir/pdvm-<key> (the QMP or API socket every driver
// puts in Spec.SocketDir). Scoping to RunDir keeps two controllers on one host (or a test next to a
// real server) from killing each other's VMs.
type ProcTable struct {
	Root   string // "/proc"
	RunDir string
}

// List implements Processes.
func (p ProcTable) List(ctx context.Context) ([]Process, error) {
	ents, err := os.ReadDir(p.Root)
	if err != nil {
		return nil, err
	}
	needle := []byte(filepath.Join(p.RunDir, vm.ProcessPrefix))
	var out []Process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(p.Root, e.Name(), "cmdline"))
		if err != nil {
			continue // gone, or not ours to read
		}
		if key, ok := keyInCmdline(raw, needle); ok {
			out = append(out, Process{PID: pid, Key: key})
		}
	}
	return out, ctx.Err()
}

// keyInCmdline finds needle followed by a VM key in a NUL-separated command line.
func keyInCmdline(cmdline, needle []byte) (string, bool) {
	for _, arg := range bytes.Split(cmdline, []byte{0}) {
		i := bytes.Index(arg, needle)
		if i < 0 {
			continue
		}
		rest := arg[i+len(needle):]
		if len(rest) < vm.KeyLen {
			continue
		}
		if key, ok := vm.KeyOf(vm.ProcessPrefix + string(rest[:vm.KeyLen])); ok {
			return key, true
		}
	}
	return "", false
}

// Kill implements Processes: SIGKILL to the process group the VMM leads (vmproc starts it with
// Setpgid) and to the process, then up to five seconds for /proc to drop it.
func (p ProcTable) Kill(ctx context.Context, pid int) error {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if _, err := os.Stat(filepath.Join(p.Root, strconv.Itoa(pid))); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		// A zombie stays in /proc until its parent (a dead controller: init) reaps it; it holds nothing.
		if st, err := os.ReadFile(filepath.Join(p.Root, strconv.Itoa(pid), "stat")); err == nil && zombie(st) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("process still alive after SIGKILL")
}

func zombie(stat []byte) bool {
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}
