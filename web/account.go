package web

import (
	"net/http"
	"strconv"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
)

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type userResponse struct {
	User *polydev.User `json:"user"`
}

// throttle spends one login/signup attempt for the client IP and, when given, the account.
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, email string) error {
	keys := []string{"ip:" + clientIP(r)}
	if email != "" {
		keys = append(keys, "email:"+email)
	}
	if ok, wait := s.limiter.allow(keys...); !ok {
		secs := int(wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return polydev.Errorf(polydev.ERATELIMIT, "too many attempts; try again in %d seconds", secs)
	}
	return nil
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.SignupDisabled {
		return polydev.Errorf(polydev.EFORBIDDEN, "sign-up is disabled on this server; ask an administrator for an account")
	}
	var in credentials
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.throttle(w, r, ""); err != nil {
		return err
	}
	u, err := auth.NewUser(in.Email, in.Password, polydev.RoleUser, polydev.TierFree, s.now())
	if err != nil {
		return err
	}
	if err := s.store.CreateUser(r.Context(), u); err != nil {
		return err
	}
	s.log.Info("account created", "request_id", requestIDFrom(r.Context()), "user_id", u.ID)
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	infoFrom(r.Context()).userID = u.ID
	return writeJSON(w, http.StatusCreated, userResponse{u})
}

var errBadLogin = polydev.Errorf(polydev.EUNAUTHORIZED, "email or password is wrong")

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in credentials
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	if len(in.Password) > polydev.MaxPasswordLen {
		return errBadLogin
	}
	if err := s.throttle(w, r, email); err != nil {
		return err
	}
	u, err := s.store.UserByEmail(r.Context(), email)
	if isNotFound(err) {
		auth.BurnVerify(in.Password) // same time as a real check: the answer must not reveal accounts
		return errBadLogin
	} else if err != nil {
		return err
	}
	ok, err := auth.VerifyPassword(in.Password, u.PasswordHash)
	if err != nil {
		return polydev.Wrap(polydev.EINTERNAL, err, "stored password hash is unreadable")
	}
	if !ok {
		s.log.Info("login failed", "request_id", requestIDFrom(r.Context()), "user_id", u.ID)
		return errBadLogin
	}
	if u.Disabled() {
		// Said only to the holder of the right password: it tells nobody else the account exists.
		return errAccountDisabled
	}
	if err := s.startSession(w, r, u); err != nil {
		return err
	}
	infoFrom(r.Context()).userID = u.ID
	return writeJSON(w, http.StatusOK, userResponse{u})
}

// logout ends the session server-side, so a copied cookie stops working too. It is idempotent.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if id := auth.SessionID(c.Value); id != "" {
			if err := s.store.DeleteSession(r.Context(), id); err != nil {
				return err
			}
		}
	}
	clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	return writeJSON(w, http.StatusOK, userResponse{u})
}
