//go:build !linux

package agent

import (
	"errors"
	"os"
	"syscall"
)

// openPTY is Linux-only; the guest is Linux.
func openPTY(cols, rows uint16) (master, tty *os.File, err error) {
	return nil, nil, errors.New("pty: not supported on this system")
}

func ttyProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
