package qemu

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
)

// removeFiles removes each non-empty path, ignoring ones that do not exist.
func removeFiles(paths ...string) error {
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

func sortedKeys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
