package web

import (
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
)

type passwordChange struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// changePassword sets a new password for the caller, who must know the current one. Every other
// session of the account ends; the one making the change stays signed in. API tokens are not
// touched (they are revoked one by one under API tokens).
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	var in passwordChange
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := polydev.CheckPassword(in.NewPassword); err != nil {
		return polydev.Errorf(polydev.EINVALID, "newPassword: %s", polydev.ErrorMessage(err))
	}
	if len(in.CurrentPassword) > polydev.MaxPasswordLen {
		return errBadCurrentPassword
	}
	// The current password is a secret an attacker holding a stolen session would guess at: the
	// same throttle as login.
	if err := s.throttle(w, r, u.Email); err != nil {
		return err
	}
	leave, err := s.hashSlot(w, r)
	if err != nil {
		return err
	}
	defer leave()
	ok, err := auth.VerifyPassword(in.CurrentPassword, u.PasswordHash)
	if err != nil {
		return polydev.Wrap(polydev.EINTERNAL, err, "stored password hash is unreadable")
	}
	if !ok {
		return errBadCurrentPassword
	}
	if err := s.setPassword(r, u, in.NewPassword, currentSessionID(r)); err != nil {
		return err
	}
	s.log.Info("password changed", "request_id", requestIDFrom(r.Context()), "user_id", u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var errBadCurrentPassword = polydev.Errorf(polydev.EFORBIDDEN, "currentPassword is wrong")

// logoutAll ends every browser session of the caller, this one included.
func (s *Server) logoutAll(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if err := s.store.DeleteUserSessions(r.Context(), u.ID, ""); err != nil {
		return err
	}
	clearSessionCookie(w)
	s.log.Info("signed out everywhere", "request_id", requestIDFrom(r.Context()), "user_id", u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// currentSessionID is the id of the session cookie the request carries ("" for none: a bearer
// token).
func currentSessionID(r *http.Request) string {
	if r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != "" {
		return ""
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return auth.SessionID(c.Value)
	}
	return ""
}
