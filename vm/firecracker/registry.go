package firecracker

import (
	"fmt"

	"github.com/polydev/polydev/vm"
)

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
