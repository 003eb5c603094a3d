//go:build unix

package web

import "syscall"

// openFileLimit is the process's limit on open descriptors (Go raises the soft limit to the hard
// one at start-up), or 0 when it cannot be read.
func openFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}
