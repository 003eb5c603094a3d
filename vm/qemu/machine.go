package qemu

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/polydev/polydev/vm"
)

// machine is the driver's record of one VM. mu serialises operations on it; every field is guarded
// by mu.
type machine struct {
	mu       sync.Mutex
	spec     vm.Spec
	state    vm.State
	proc     Process // nil until the first launch
	qmp      *Client
	stopping bool   // the driver asked the process to end, so its exit is not a failure
	memPath  string // shared RAM file (Config.MemoryDir); empty when RAM is anonymous or a snapshot's
}

// observe notes an exit nobody asked for (guest panic with -no-reboot, a crash, kill -9 from outside)
// as StateFailed, and returns the current state.
func (m *machine) observe() vm.State {
	if m.proc == nil || m.stopping || m.state == vm.StateStopped {
		return m.state
	}
	select {
	case <-m.proc.Done():
		m.state = vm.StateFailed
	default:
	}
	return m.state
}

func (m *machine) pidPath() string { return filepath.Join(m.spec.SocketDir, m.spec.Names().PIDFile) }
func (m *machine) logPath() string { return filepath.Join(m.spec.SocketDir, m.spec.Names().LogFile) }

// stateOf maps QEMU's RunState to a vm.State. A VM frozen since launch (-S) is created until its first
// cont; migration states count as paused.
func stateOf(status string, current vm.State) (vm.State, error) {
	switch status {
	case "running":
		return vm.StateRunning, nil
	case "prelaunch":
		return vm.StateCreated, nil
	case "paused", "postmigrate", "finish-migrate", "inmigrate", "save-vm", "restore-vm", "suspended", "debug":
		if current == vm.StateCreated {
			return vm.StateCreated, nil
		}
		return vm.StatePaused, nil
	case "shutdown", "guest-panicked", "internal-error", "io-error", "watchdog":
		return vm.StateFailed, nil
	}
	return current, fmt.Errorf("qemu: unknown run state %q", status)
}

// add registers a new machine for spec and returns it locked.
func (d *Driver) add(spec vm.Spec) (*machine, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.vms[spec.ID]; ok {
		return nil, fmt.Errorf("%w: %s", vm.ErrExists, spec.ID)
	}
	m := &machine{spec: spec}
	m.mu.Lock()
	d.vms[spec.ID] = m
	return m, nil
}

// lock returns the machine for id, locked, or ErrNotFound (also when it was forgotten while the
// caller waited for its lock).
func (d *Driver) lock(id string) (*machine, error) {
	d.mu.Lock()
	m := d.vms[id]
	d.mu.Unlock()
	if m == nil {
		return nil, fmt.Errorf("%w: %s", vm.ErrNotFound, id)
	}
	m.mu.Lock()
	d.mu.Lock()
	current := d.vms[id] == m
	d.mu.Unlock()
	if !current {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", vm.ErrNotFound, id)
	}
	return m, nil
}

func (d *Driver) forget(m *machine) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.vms[m.spec.ID] == m {
		delete(d.vms, m.spec.ID)
	}
}
