package auth

import (
	"context"
	"time"

	"github.com/polydev/polydev"
)

// Gate bounds how many password hashes (argon2id: 19 MiB and tens of milliseconds of CPU each) run
// at once, so that a flood of logins or sign-ups costs at most slots × 19 MiB of memory and leaves
// cores for everything else. A caller that finds no free slot waits up to the gate's wait, then is
// refused with ErrBusy (the HTTP layer answers 503 with Retry-After).
type Gate struct {
	slots chan struct{}
	wait  time.Duration
}

// NewGate allows n concurrent hashes (at least 1); callers queue for at most wait.
func NewGate(n int, wait time.Duration) *Gate {
	return &Gate{slots: make(chan struct{}, max(1, n)), wait: wait}
}

// ErrBusy is the answer when every slot stayed taken for the whole wait.
var ErrBusy = polydev.Errorf(polydev.EUNAVAILABLE, "the server is busy checking passwords; try again in a few seconds")

// Enter takes a slot, waiting up to the gate's wait (or until ctx ends). Call the returned function
// when the hash is done.
func (g *Gate) Enter(ctx context.Context) (leave func(), err error) {
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.leave, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *Gate) leave() { <-g.slots }

// Capacity is the number of hashes that may run at once.
func (g *Gate) Capacity() int { return cap(g.slots) }
