package agent

import "time"

// State is where one child is in its life cycle.
type State string

const (
	StatePending  State = "pending"  // waiting for the children before it to be ready
	StateStarting State = "starting" // process running, readiness check not yet passing
	StateReady    State = "ready"    // readiness check passed; serving
	StateBackoff  State = "backoff"  // crashed; waiting to be restarted
	StateFailed   State = "failed"   // crashed more often than its policy allows; not restarted
	StateStopped  State = "stopped"  // stopped by the supervisor
)

// Status is a point-in-time view of one child.
type Status struct {
	Name      string    `json:"name"`
	State     State     `json:"state"`
	PID       int       `json:"pid,omitempty"`
	Restarts  int       `json:"restarts"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since"`
}

// Snapshot is a consistent view of every child at one moment.
type Snapshot struct {
	Children []Status
	// BroughtUp is true once every child has been ready at the same time at least once; it tells a
	// boot still in progress ("starting") from a stack that lost a child ("degraded").
	BroughtUp bool
}

// AllReady reports whether every child is ready.
func (s Snapshot) AllReady() bool {
	for _, c := range s.Children {
		if c.State != StateReady {
			return false
		}
	}
	return len(s.Children) > 0
}

// AnyFailed reports whether some child was given up on.
func (s Snapshot) AnyFailed() bool {
	for _, c := range s.Children {
		if c.State == StateFailed {
			return true
		}
	}
	return false
}

// Child returns the status of the named child.
func (s Snapshot) Child(name string) (Status, bool) {
	for _, c := range s.Children {
		if c.Name == name {
			return c, true
		}
	}
	return Status{}, false
}
