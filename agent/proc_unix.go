//go:build unix && !linux

package agent

import "syscall"

// sysProcAttr puts each child in its own process group, so that signals reach everything it spawned.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
