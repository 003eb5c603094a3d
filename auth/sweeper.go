package auth

import (
	"context"
	"log/slog"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/periodic"
)

// SessionSweeper is a background service that deletes ended sessions (past absolute expiry or idle too
// long), so the sessions table does not grow without bound. Expiry itself is enforced on every request;
// the sweeper only tidies.
type SessionSweeper struct {
	Store    polydev.SessionStore
	Log      *slog.Logger
	Idle     time.Duration // sessions unused this long are deleted
	Interval time.Duration // default 10 minutes
	Now      func() time.Time

	loop periodic.Loop
}

// Start runs the sweeper until ctx ends or Stop is called.
func (s *SessionSweeper) Start(ctx context.Context) {
	if s.Interval == 0 {
		s.Interval = 10 * time.Minute
	}
	if s.Now == nil {
		s.Now = polydev.Now
	}
	s.loop.Start(ctx, s.Interval, func(ctx context.Context) { s.RunOnce(ctx) })
}

// RunOnce does one pass with its own deadline and reports how many sessions it removed.
func (s *SessionSweeper) RunOnce(ctx context.Context) int {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	now := s.Now()
	n, err := s.Store.DeleteExpiredSessions(ctx, now, now.Add(-s.Idle))
	if err != nil && ctx.Err() == nil {
		s.Log.Warn("session sweep failed", "service", "session-sweeper", "err", err)
	} else if n > 0 {
		s.Log.Info("ended sessions removed", "service", "session-sweeper", "count", n)
	}
	return n
}

// Stop ends the loop and waits for it.
func (s *SessionSweeper) Stop() { s.loop.Stop() }
