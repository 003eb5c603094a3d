package authsession

import (
	"context"

	"github.com/polydev/polydev"
)

// sweepBatch bounds one pass of the expiry job; the next pass takes the rest.
const sweepBatch = 200

// Sweep is one pass of the expiry job: active sessions past their expiry end (expired) and every
// final session whose VM was not released gets it reaped. Tests call it directly.
func (s *Service) Sweep(ctx context.Context) {
	due, err := s.cfg.Store.AuthSessionsToSweep(ctx, s.now(), sweepBatch)
	if err != nil {
		s.cfg.Log.Error("listing login sessions to sweep failed", "err", err)
		return
	}
	for _, a := range due {
		s.sweepOne(ctx, a, polydev.AuthExpired, "expired: a login session lasts "+s.cfg.TTL.String()+"; start a new one")
	}
}

// recover ends the sessions left active by a previous process: their runners and per-clone tokens
// died with it, so nobody could finish them. (The VM controller owns every VM of its database, so
// only one process runs this service against it.)
func (s *Service) recover(ctx context.Context) {
	left, err := s.cfg.Store.AuthSessionsToSweep(ctx, s.now().Add(s.cfg.TTL), sweepBatch)
	if err != nil {
		s.cfg.Log.Error("listing login sessions left by the last run failed", "err", err)
		return
	}
	for _, a := range left {
		if s.runner(a.ID) == nil {
			s.sweepOne(ctx, a, polydev.AuthFailed, "the server restarted during the login; start a new session")
		}
	}
}

// sweepOne ends a (when active) with status to and reaps its VM.
func (s *Service) sweepOne(ctx context.Context, a *polydev.AuthSession, to polydev.AuthSessionStatus, reason string) {
	var r *runner
	if a.Status.Active() {
		if !s.end(ctx, a, nil, to, reason) {
			return // ended meanwhile by its runner or a cancel, which reap
		}
		r = s.untrack(a.ID)
	}
	s.reap(ctx, a, r)
}
