package netns

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/polydev/polydev/vm"
)

// List returns the names of the Polydev VM namespaces on this host and of the outer veth ends in the
// uplink namespace (named like the namespace they lead to), sorted and without duplicates. A name
// that appears without its namespace is a stray veth end. Names not made by vm.Names are left out.
func (m *Manager) List(ctx context.Context) ([]string, error) {
	nss, err := m.netnsNames(ctx)
	if err != nil {
		return nil, err
	}
	links, err := m.linkNames(ctx, m.cfg.UplinkNetns)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range append(nss, links...) {
		if key, ok := vm.KeyOf(n); ok && n == vm.NetnsPrefix+key && (m.listed == nil || m.listed(n)) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Reclaim removes every namespace and outer veth end that belongs to no VM in liveIDs, and returns
// their names. Call it at start-up, or under the controller's creation lock: a VM set up after
// liveIDs was computed would be removed.
func (m *Manager) Reclaim(ctx context.Context, liveIDs []string) ([]string, error) {
	names, err := m.List(ctx)
	if err != nil {
		return nil, err
	}
	orphans := vm.Orphans(names, liveIDs)
	var errs []error
	var removed []string
	for _, name := range orphans {
		if err := m.remove(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		m.cfg.Logger.Info("netns: reclaimed orphan", "netns", name)
		removed = append(removed, name)
	}
	return removed, errors.Join(errs...)
}

// Remove deletes one namespace and the outer veth end named name, which must be a name vm.Names
// made (a "pdvn-" name, as List returns). The controller's reconciler calls it for vm.Orphans of
// List; removing what is already gone is not an error.
func (m *Manager) Remove(ctx context.Context, name string) error {
	if key, ok := vm.KeyOf(name); !ok || name != vm.NetnsPrefix+key {
		return fmt.Errorf("netns: %q is not a Polydev VM namespace name", name)
	}
	return m.remove(ctx, name)
}
