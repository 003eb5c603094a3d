package vmproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/polydev/polydev/vm"
)

// Machine is a driver's record of one VM: what every VMM has (spec, state, process) and, in X, what
// only one VMM has (an API client, a QMP connection, a memory file). Mu serialises operations on the
// VM; every field is guarded by it.
type Machine[X any] struct {
	Mu    sync.Mutex
	Spec  vm.Spec
	State vm.State
	Proc  Process // nil until the first launch
	// Stopping says the driver asked the process to end, so its exit is not a failure.
	Stopping bool
	X        X
}

// Observe notes an exit nobody asked for (a guest panic, a VMM crash, kill -9 from outside) as
// StateFailed, and returns the current state.
func (m *Machine[X]) Observe() vm.State {
	if m.Proc == nil || m.Stopping || m.State == vm.StateStopped {
		return m.State
	}
	select {
	case <-m.Proc.Done():
		m.State = vm.StateFailed
	default:
	}
	return m.State
}

// PIDPath and LogPath are the VM's pid file and VMM log, named from its id in its socket directory.
func (m *Machine[X]) PIDPath() string {
	return filepath.Join(m.Spec.SocketDir, m.Spec.Names().PIDFile)
}

func (m *Machine[X]) LogPath() string {
	return filepath.Join(m.Spec.SocketDir, m.Spec.Names().LogFile)
}

// Netns is the network namespace the VM's process runs in: its TAP device's, or "" for the host's.
func Netns(spec vm.Spec) string {
	if spec.Net.TAP != nil {
		return spec.Net.TAP.Netns
	}
	return ""
}

// RemoveFiles removes each non-empty path, ignoring ones that do not exist.
func RemoveFiles(paths ...string) error {
	var errs []error
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Registry holds a driver's machines by VM id. Operations on different VMs do not wait for each
// other; operations on one VM are serialised by its Mu.
type Registry[X any] struct {
	mu  sync.Mutex
	vms map[string]*Machine[X]
}

// Add registers a new machine for spec and returns it locked.
func (r *Registry[X]) Add(spec vm.Spec) (*Machine[X], error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.vms[spec.ID]; ok {
		return nil, fmt.Errorf("%w: %s", vm.ErrExists, spec.ID)
	}
	if r.vms == nil {
		r.vms = map[string]*Machine[X]{}
	}
	m := &Machine[X]{Spec: spec}
	m.Mu.Lock()
	r.vms[spec.ID] = m
	return m, nil
}

// Lock returns the machine for id, locked, or ErrNotFound (also when it was forgotten while the
// caller waited for its lock).
func (r *Registry[X]) Lock(id string) (*Machine[X], error) {
	r.mu.Lock()
	m := r.vms[id]
	r.mu.Unlock()
	if m == nil {
		return nil, fmt.Errorf("%w: %s", vm.ErrNotFound, id)
	}
	m.Mu.Lock()
	r.mu.Lock()
	current := r.vms[id] == m
	r.mu.Unlock()
	if !current {
		m.Mu.Unlock()
		return nil, fmt.Errorf("%w: %s", vm.ErrNotFound, id)
	}
	return m, nil
}

// Forget removes m (if it is still the machine registered under its id).
func (r *Registry[X]) Forget(m *Machine[X]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vms[m.Spec.ID] == m {
		delete(r.vms, m.Spec.ID)
	}
}
