package accounting

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// preallocate gives f's first n bytes blocks on disk, so that a store into a shared mapping of
// them never has to find one (a full disk would fault the store). A filesystem without
// fallocate is no error: its blocks are found at the fault, as they would be at a write(2).
func preallocate(f *os.File, n int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, n)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return nil
	}
	return err
}
