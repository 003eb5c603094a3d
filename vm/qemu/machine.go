package qemu

import (
	"fmt"

	"github.com/polydev/polydev/vm"
	"github.com/polydev/polydev/vm/vmproc"
)

// qx is what a QEMU machine has beyond every VMM's record.
type qx struct {
	qmp     *Client
	memPath string // shared RAM file (Config.MemoryDir); empty when RAM is anonymous or a snapshot's
}

type machine = vmproc.Machine[qx]

// stateOf maps QEMU's RunState to a vm.State. A VM frozen since launch (-S) is created until its first
// cont; migration states count as paused.
func stateOf(status string, current vm.State) (vm.State, error) {
	switch status {
	case "running":
		return vm.StateRunning, nil
	case "prelaunch":
		return vm.StateCreated, nil
	case "paused", "postmigrate", "finish-migrate", "inmigrate", "save-vm", "restore-vm", "suspended", "debug":
		if current == vm.StateCreated {
			return vm.StateCreated, nil
		}
		return vm.StatePaused, nil
	case "shutdown", "guest-panicked", "internal-error", "io-error", "watchdog":
		return vm.StateFailed, nil
	}
	return current, fmt.Errorf("qemu: unknown run state %q", status)
}
