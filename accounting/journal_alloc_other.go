//go:build !linux

package accounting

import "os"

// preallocate does nothing where there is no fallocate: blocks are found at the first store into a
// page, as they would be at a write(2).
func preallocate(*os.File, int64) error { return nil }
