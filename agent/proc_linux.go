package agent

import "syscall"

// sysProcAttr puts each child in its own process group, so that signals reach everything it spawned,
// and asks the kernel to kill it if the agent dies, so that a restarted agent finds no orphans.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
