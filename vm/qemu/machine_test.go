package qemu

import (
	"testing"

	"github.com/polydev/polydev/vm"
)

func TestStateOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  string
		current vm.State
		want    vm.State
	}{
		{"prelaunch", vm.StateCreated, vm.StateCreated},
		{"running", vm.StateCreated, vm.StateRunning},
		{"paused", vm.StateRunning, vm.StatePaused},
		{"paused", vm.StateCreated, vm.StateCreated}, // frozen since launch: not booted yet
		{"postmigrate", vm.StatePaused, vm.StatePaused},
		{"inmigrate", vm.StatePaused, vm.StatePaused},
		{"guest-panicked", vm.StateRunning, vm.StateFailed},
		{"internal-error", vm.StateRunning, vm.StateFailed},
	}
	for _, tt := range tests {
		if got, err := stateOf(tt.status, tt.current); err != nil || got != tt.want {
			t.Errorf("stateOf(%q, %s) = %s, %v; want %s", tt.status, tt.current, got, err, tt.want)
		}
	}
	if got, err := stateOf("colo", vm.StateRunning); err == nil || got != vm.StateRunning {
		t.Errorf("unknown status = %s, %v; want the current state and an error", got, err)
	}
}
