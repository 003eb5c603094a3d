package agent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Config configures a Supervisor. Zero values get the defaults noted.
type Config struct {
	Specs  []Spec
	Logger *slog.Logger // default slog.Default()
	Output io.Writer    // children's stdout and stderr; default os.Stderr

	GracePeriod  time.Duration // between SIGTERM and SIGKILL at stop; default 5s
	PollInterval time.Duration // between readiness probes; default 100ms

	// Test hooks. Now and Sleep replace the clock used for the restart window and the backoff wait.
	// OnChange is called after every state change, in the order the changes happened; it must not
	// block for long, and may call Snapshot.
	Now      func() time.Time
	Sleep    func(ctx context.Context, d time.Duration) error
	OnChange func(Status)
}

// Supervisor runs a fixed, ordered list of children. Create it with New, then Start and Stop it.
type Supervisor struct {
	cfg Config
	log *slog.Logger

	hookMu sync.Mutex // serialises state changes with their OnChange calls, so hooks see them in order

	mu        sync.Mutex
	children  []*child
	changed   chan struct{} // closed and replaced on every state change
	broughtUp bool

	startOnce sync.Once
	stopOnce  sync.Once
}

type child struct {
	index  int
	spec   Spec
	status Status
	cancel context.CancelFunc
	done   chan struct{}

	restarts int // owned by the child's run loop
}

// New checks the specs and returns a supervisor that has started nothing yet.
func New(cfg Config) (*Supervisor, error) {
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.Output = cmp.Or[io.Writer](cfg.Output, os.Stderr)
	cfg.GracePeriod = cmp.Or(cfg.GracePeriod, 5*time.Second)
	cfg.PollInterval = cmp.Or(cfg.PollInterval, 100*time.Millisecond)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if len(cfg.Specs) == 0 {
		return nil, errors.New("agent: no children to supervise")
	}
	s := &Supervisor{cfg: cfg, log: cfg.Logger.With("service", "agent.supervisor"), changed: make(chan struct{})}
	seen := map[string]bool{}
	for i, sp := range cfg.Specs {
		if sp.Name == "" || sp.Path == "" {
			return nil, fmt.Errorf("agent: child %d needs a name and a path", i)
		}
		if seen[sp.Name] {
			return nil, fmt.Errorf("agent: two children named %q", sp.Name)
		}
		seen[sp.Name] = true
		sp.Restart = sp.Restart.withDefaults()
		sp.ReadyTimeout = cmp.Or(sp.ReadyTimeout, 60*time.Second)
		s.children = append(s.children, &child{
			index:  i,
			spec:   sp,
			status: Status{Name: sp.Name, State: StatePending, Since: cfg.Now()},
			done:   make(chan struct{}),
		})
	}
	return s, nil
}

// Start launches every child's run loop and returns at once; children come up in order in the
// background. Use WaitReady or Snapshot to follow them. Their lifetime ends with Stop, not with ctx,
// which only carries values (ctx's cancellation is ignored).
func (s *Supervisor) Start(ctx context.Context) {
	s.startOnce.Do(func() {
		base := context.WithoutCancel(ctx)
		for _, c := range s.children {
			cctx, cancel := context.WithCancel(base)
			c.cancel = cancel
			go s.run(cctx, c)
		}
	})
}

// Stop stops the children in reverse order (websockify before the display it shows), each with
// SIGTERM to its process group and SIGKILL after the grace period, and returns when all are gone.
// A supervisor that was never started has nothing to stop.
func (s *Supervisor) Stop() {
	s.stopOnce.Do(func() {
		started := false
		s.startOnce.Do(func() {}) // a later Start must not launch anything
		for i := len(s.children) - 1; i >= 0; i-- {
			c := s.children[i]
			if c.cancel == nil {
				continue
			}
			started = true
			c.cancel()
			<-c.done
		}
		if started {
			s.log.Info("all children stopped")
		}
	})
}

// Snapshot returns the state of every child.
func (s *Supervisor) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{BroughtUp: s.broughtUp}
	for _, c := range s.children {
		snap.Children = append(snap.Children, c.status)
	}
	return snap
}

// WaitReady blocks until every child is ready (nil), some child failed (an error naming it), or ctx ends.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	for {
		snap, changed := s.watch()
		if snap.AllReady() {
			return nil
		}
		for _, c := range snap.Children {
			if c.State == StateFailed {
				return fmt.Errorf("agent: %s failed: %s", c.Name, c.LastError)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// watch returns a snapshot and a channel closed at the next state change.
func (s *Supervisor) watch() (Snapshot, <-chan struct{}) {
	s.mu.Lock()
	ch := s.changed
	s.mu.Unlock()
	return s.Snapshot(), ch // a change in between only closes ch early: callers loop
}

// update applies fn to c's status, wakes the watchers and calls the OnChange hook.
func (s *Supervisor) update(c *child, fn func(*Status)) {
	s.hookMu.Lock()
	defer s.hookMu.Unlock()
	s.mu.Lock()
	fn(&c.status)
	c.status.Since = s.cfg.Now()
	st := c.status
	all := true
	for _, o := range s.children {
		all = all && o.status.State == StateReady
	}
	s.broughtUp = s.broughtUp || all
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	s.log.Info("child state", "child", st.Name, "state", st.State, "pid", st.PID, "restarts", st.Restarts, "error", st.LastError)
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(st)
	}
}

// depsReady reports whether every child before index i is ready.
func (s *Supervisor) depsReady(i int) (bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.children[:i] {
		if o.status.State != StateReady {
			return false, s.changed
		}
	}
	return true, s.changed
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
