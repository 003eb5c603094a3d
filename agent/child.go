package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// run is one child's loop: wait for the children before it, start, wait until ready, wait until it
// exits, back off, and again, until the supervisor stops it or it crashes too often.
func (s *Supervisor) run(ctx context.Context, c *child) {
	defer close(c.done)
	p := c.spec.Restart
	var crashes []time.Time
	for {
		if !s.waitDeps(ctx, c) {
			break
		}
		err := s.runOnce(ctx, c)
		if ctx.Err() != nil {
			break
		}
		now := s.cfg.Now()
		crashes = append(recent(crashes, now.Add(-p.Window)), now)
		if len(crashes) > p.MaxRestarts {
			s.update(c, func(st *Status) {
				st.State, st.PID = StateFailed, 0
				st.LastError = fmt.Sprintf("%d crashes within %v, giving up; last: %v", len(crashes), p.Window, err)
			})
			return
		}
		// The backoff grows with the crashes still inside the window, so a child that has been
		// stable for a window starts again from the short delay.
		d := p.Backoff
		for range len(crashes) - 1 {
			d = p.nextBackoff(d)
		}
		s.update(c, func(st *Status) {
			st.State, st.PID, st.LastError = StateBackoff, 0, err.Error()
		})
		if s.cfg.Sleep(ctx, d) != nil {
			break
		}
		c.restarts++
	}
	s.update(c, func(st *Status) { st.State, st.PID = StateStopped, 0 })
}

// waitDeps waits until every child before c is ready; false means the supervisor is stopping.
func (s *Supervisor) waitDeps(ctx context.Context, c *child) bool {
	for {
		ok, changed := s.depsReady(c.index)
		if ok {
			return true
		}
		if s.Snapshot().Children[c.index].State != StatePending {
			s.update(c, func(st *Status) { st.State = StatePending })
		}
		select {
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// runOnce starts the child and returns when it has exited (the crash, as an error) or, once ctx is
// cancelled, when it has been terminated.
func (s *Supervisor) runOnce(ctx context.Context, c *child) error {
	cmd := exec.Command(c.spec.Path, c.spec.Args...)
	cmd.Env = append(os.Environ(), c.spec.Env...)
	cmd.Dir = c.spec.Dir
	cmd.Stdout, cmd.Stderr = s.cfg.Output, s.cfg.Output
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = s.cfg.GracePeriod // only matters when Output is not a file
	if c.spec.PreStart != nil {
		if err := c.spec.PreStart(); err != nil {
			s.update(c, func(st *Status) { st.State, st.Restarts = StateStarting, c.restarts })
			return fmt.Errorf("prepare %s: %w", c.spec.Name, err)
		}
	}
	if err := cmd.Start(); err != nil {
		s.update(c, func(st *Status) { st.State, st.Restarts = StateStarting, c.restarts })
		return fmt.Errorf("start %s: %w", c.spec.Path, err)
	}
	pid := cmd.Process.Pid
	s.update(c, func(st *Status) { st.State, st.PID, st.Restarts = StateStarting, pid, c.restarts })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	if err := s.awaitReady(ctx, c, exited); err != nil {
		if ee, ok := errors.AsType[*exitedError](err); ok {
			s.terminate(pid, nil)
			return ee.err
		}
		s.terminate(pid, exited)
		return err
	}
	s.update(c, func(st *Status) { st.State = StateReady })
	select {
	case err := <-exited:
		s.terminate(pid, nil) // whatever it left behind in its group
		return exitErr(err)
	case <-ctx.Done():
		s.terminate(pid, exited)
		return ctx.Err()
	}
}

type exitedError struct{ err error }

func (e *exitedError) Error() string { return e.err.Error() }

func exitErr(err error) error {
	if err == nil {
		return errors.New("exited with status 0")
	}
	return err
}

// awaitReady polls the readiness check until it passes (nil), the process exits (*exitedError), the
// ready timeout passes or ctx ends.
func (s *Supervisor) awaitReady(ctx context.Context, c *child, exited <-chan error) error {
	if c.spec.Ready == nil {
		return nil
	}
	timeout := time.NewTimer(c.spec.ReadyTimeout)
	defer timeout.Stop()
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	for {
		err := c.spec.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case werr := <-exited:
			return &exitedError{exitErr(werr)}
		case <-timeout.C:
			return fmt.Errorf("not ready after %v: %w", c.spec.ReadyTimeout, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// terminate sends SIGTERM to the child's process group and SIGKILL after the grace period. exited is
// the leader's exit channel, or nil when the leader has already exited; in both cases the rest of the
// group gets the same grace before SIGKILL.
func (s *Supervisor) terminate(pgid int, exited <-chan error) {
	if syscall.Kill(-pgid, syscall.SIGTERM) != nil && exited == nil {
		return // nothing left in the group
	}
	deadline := time.NewTimer(s.cfg.GracePeriod)
	defer deadline.Stop()
	if exited != nil {
		select {
		case <-exited:
		case <-deadline.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
			waitGroupGone(pgid, killSettle)
			return
		}
	}
	// The leader is gone; give the rest of its group (grandchildren) what is left of the grace.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for groupAlive(pgid) {
		select {
		case <-deadline.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			waitGroupGone(pgid, killSettle)
			return
		case <-tick.C:
		}
	}
}

// killSettle bounds the wait for SIGKILLed processes to disappear. A signal is delivered
// asynchronously; and a grandchild reparented to an init that does not reap stays a zombie (signalable)
// forever, so the wait cannot be unbounded.
const killSettle = time.Second

func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

func waitGroupGone(pgid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}

// recent drops the times before since.
func recent(ts []time.Time, since time.Time) []time.Time {
	out := ts[:0]
	for _, t := range ts {
		if !t.Before(since) {
			out = append(out, t)
		}
	}
	return out
}
