package controller

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/polydev/polydev/vm"
)

// removeFiles deletes every file named from VM id in the run and VM directories (the driver's
// Destroy removes most of them; this catches pid files, logs and whatever a crash left), but the
// hypervisor log when keepLog is set.
func (c *Controller) removeFiles(id string, keepLog bool) error {
	n := vm.Names(id)
	files := []string{n.Socket, n.Overlay, n.MemFile, n.StateFile, n.PIDFile, n.Egress}
	if !keepLog {
		files = append(files, n.LogFile)
	}
	var errs []error
	for _, dir := range []string{c.cfg.RunDir, c.cfg.VMDir} {
		for _, f := range files {
			if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// orphanFiles removes the files in the run and VM directories that vm.Names made for no VM in
// live, and returns how many it removed.
func (c *Controller) orphanFiles(live []string) (int, error) {
	removed := 0
	var errs []error
	for _, dir := range []string{c.cfg.RunDir, c.cfg.VMDir} {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		names := make([]string, 0, len(ents))
		for _, e := range ents {
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
		for _, name := range vm.Orphans(names, live) {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
				continue
			}
			removed++
		}
	}
	return removed, errors.Join(errs...)
}
