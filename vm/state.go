package vm

import "fmt"

// State is where a VM is in its lifecycle. It is a string so that it can be stored in the vms table
// and shown in the API as is.
type State string

// The lifecycle states. A VM that is destroyed has no state: its record and resources are gone.
const (
	StateCreated State = "created" // resources prepared and configured, guest not booted yet
	StateRunning State = "running" // guest executing
	StatePaused  State = "paused"  // vCPUs halted, memory kept (during a snapshot, or on request)
	StateStopped State = "stopped" // hypervisor process gone on purpose; disk overlay kept for a restart
	StateFailed  State = "failed"  // hypervisor process died or stopped answering without being asked to
)

// States lists every valid state, in lifecycle order.
var States = []State{StateCreated, StateRunning, StatePaused, StateStopped, StateFailed}

// transitions holds the moves a driver may make. Failed is reachable from anywhere (a process can
// die at any time) and leads nowhere but Destroy: a failed VM is never silently revived.
var transitions = map[State][]State{
	StateCreated: {StateRunning, StateStopped, StateFailed},
	StateRunning: {StatePaused, StateStopped, StateFailed},
	StatePaused:  {StateRunning, StateStopped, StateFailed},
	StateStopped: {StateRunning, StateFailed},
	StateFailed:  {},
}

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// CanBecome reports whether a VM in state s may move to next. Staying in the same state is always
// allowed, so repeated Start or Stop calls and repeated failure reports are harmless.
func (s State) CanBecome(next State) bool {
	if !s.Valid() || !next.Valid() {
		return false
	}
	if s == next {
		return true
	}
	for _, t := range transitions[s] {
		if t == next {
			return true
		}
	}
	return false
}

// ParseState turns stored text back into a State, refusing anything unknown.
func ParseState(s string) (State, error) {
	st := State(s)
	if !st.Valid() {
		return "", fmt.Errorf("vm: unknown state %q", s)
	}
	return st, nil
}
