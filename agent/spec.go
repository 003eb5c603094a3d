package agent

import (
	"cmp"
	"context"
	"time"
)

// Spec describes one supervised child. Children are started in the order given to the Supervisor;
// each waits for every earlier child to be ready before it is (re)started.
type Spec struct {
	Name string   // short unique name: "display", "browser", "vnc", "websockify"
	Path string   // executable; looked up in PATH when it has no slash
	Args []string // arguments, without argv[0]
	Env  []string // extra KEY=VALUE entries appended to the agent's environment
	Dir  string   // working directory; empty means the agent's

	// PreStart, when set, runs before every start; an error counts as a crash. It clears what a killed
	// instance left behind (Xvfb's lock file, Chromium's profile singleton) so the restart can succeed.
	PreStart func() error

	// Ready reports nil once the child serves what it is for. Nil means ready as soon as it started.
	Ready Check
	// ReadyTimeout bounds how long a start may take to become ready before it counts as a crash.
	ReadyTimeout time.Duration

	Restart RestartPolicy
}

// RestartPolicy says how a crashed child is restarted: after Backoff, doubling up to MaxBackoff, and
// not more than MaxRestarts times within Window; one more crash in the window marks it failed.
type RestartPolicy struct {
	Backoff     time.Duration
	MaxBackoff  time.Duration
	MaxRestarts int
	Window      time.Duration
}

func (p RestartPolicy) withDefaults() RestartPolicy {
	p.Backoff = cmp.Or(p.Backoff, 250*time.Millisecond)
	p.MaxBackoff = cmp.Or(p.MaxBackoff, 10*time.Second)
	p.MaxRestarts = cmp.Or(p.MaxRestarts, 5)
	p.Window = cmp.Or(p.Window, time.Minute)
	return p
}

// nextBackoff doubles d, capped at the policy's maximum.
func (p RestartPolicy) nextBackoff(d time.Duration) time.Duration {
	return min(2*d, p.MaxBackoff)
}

// Check is a readiness probe. It is polled until it returns nil or the start is abandoned.
type Check func(ctx context.Context) error
