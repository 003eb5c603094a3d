package authsession

import (
	"context"
	"time"

	"github.com/polydev/polydev"
)

// maxPollFailures is how many polls in a row may fail before the guest counts as gone: a restored
// guest under load can miss a poll or two, a destroyed one misses every one.
const maxPollFailures = 5

// run polls a running session's login until it completes or fails, or until someone else ends the
// session (Cancel, the expiry job: they stop the runner and reap) or the service stops (then the
// runner ends the session itself).
func (s *Service) run(a *polydev.AuthSession, r *runner) {
	tick := time.NewTicker(s.cfg.PollEvery)
	defer tick.Stop()
	failures := 0
	for {
		select {
		case <-r.ctx.Done():
			s.stopped(a, r)
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
		st, err := r.agent.LoginState(ctx, r.token)
		cancel()
		switch {
		case r.ctx.Err() != nil:
			continue // the select above handles it
		case err != nil:
			if failures++; failures < maxPollFailures {
				s.cfg.Log.Debug("login state poll failed", "auth_session", a.ID, "err", err)
				continue
			}
			s.finish(a, r, polydev.AuthFailed, "the login VM stopped answering; start a new session")
			s.cfg.Log.Warn("login VM stopped answering", "auth_session", a.ID, "err", err)
			return
		}
		failures = 0
		switch st.State {
		case LoginCompleted:
			s.complete(a, r)
			return
		case LoginFailed:
			s.finish(a, r, polydev.AuthFailed, "the login failed in the VM: "+clip(st.Error))
			return
		}
	}
}

// stopped handles a runner whose context ended: if the service is stopping, the session ends
// here; otherwise whoever stopped the runner ended the session and reaps.
func (s *Service) stopped(a *polydev.AuthSession, r *runner) {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		s.finish(a, r, polydev.AuthFailed, "the server stopped during the login; start a new session")
	}
}

// finish ends a session this runner drives and reaps its VM, with a context of its own (the
// runner's may be cancelled already).
func (s *Service) finish(a *polydev.AuthSession, r *runner, to polydev.AuthSessionStatus, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.forget(a.ID, r)
	if s.end(ctx, a, r, to, reason) {
		s.reap(ctx, a, r)
	}
}

// forget removes r from the runners if it is still the one registered for session id.
func (s *Service) forget(id string, r *runner) {
	s.mu.Lock()
	if s.runners[id] == r {
		delete(s.runners, id)
	}
	s.mu.Unlock()
}

// complete takes the credential file out of the guest, seals it and completes the session; the
// plaintext lives only in this function's memory and is cleared before it returns.
func (s *Service) complete(a *polydev.AuthSession, r *runner) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := r.agent.Credential(ctx, r.token)
	defer clear(f.Content)
	if err != nil {
		s.cfg.Log.Warn("taking the credential from the login VM failed", "auth_session", a.ID, "err", err)
		s.finish(a, r, polydev.AuthFailed, "the sign-in finished but its credential could not be taken from the VM; start a new session")
		return
	}
	if len(f.Content) == 0 {
		s.cfg.Log.Warn("the login VM handed back an empty credential file", "auth_session", a.ID)
		s.finish(a, r, polydev.AuthFailed, "the sign-in finished but left no credential; start a new session")
		return
	}
	sealed, ver, err := s.cfg.Vault.Seal(ctx, a.UserID, credentialAAD(a), f.Content)
	if err != nil {
		s.cfg.Log.Error("sealing a login credential failed", "auth_session", a.ID, "err", err)
		s.finish(a, r, polydev.AuthFailed, "the credential could not be stored; start a new session")
		return
	}
	s.forget(a.ID, r)
	c := &polydev.AuthCredential{Name: clip(f.File), Sealed: sealed, DEKVersion: ver}
	if err := s.cfg.Store.CompleteAuthSession(ctx, a.ID, c, s.now()); err != nil {
		// ECONFLICT: cancelled or expired at the same moment; whoever ended it reaps.
		if polydev.ErrorCode(err) != polydev.ECONFLICT {
			s.cfg.Log.Error("completing a login session failed", "auth_session", a.ID, "err", err)
			s.finish(a, r, polydev.AuthFailed, "the credential could not be stored; start a new session")
		}
		return
	}
	s.cfg.Log.Info("login session completed", "auth_session", a.ID, "user_id", a.UserID, "provider", a.Provider)
	s.reap(ctx, a, r)
}
