package web

import (
	"net/http"

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

// throttle spends one login attempt on an account (email), or one sign-up attempt (email ""), for
// the client. Buckets (LoginBurst = B attempts, one back per LoginRefillTime = T):
//
//   - the account from this client: B, one per T — one client hammering an account stops here;
//   - the account from any client: 10·B, one per T/10 — a bound on guesses spread over many
//     clients, refilled ten times faster than one client's bucket, so a single attacker can never
//     empty it and the owner logs in from another client meanwhile;
//   - the client across accounts: 10·B, one per T/10 for login (spraying many accounts); B, one
//     per T for sign-up.
//
// The client is the connection's address, or the X-Forwarded-For address named by a trusted proxy
// (POLYDEV_TRUSTED_PROXIES), so clients behind one reverse proxy do not share a bucket.
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, email string) error {
	client := s.clientIP(r)
	burst, refill := s.cfg.LoginBurst, s.cfg.LoginRefillTime
	rates := []rate{{"signup-ip:" + client, burst, refill}}
	if email != "" {
		rates = []rate{
			{"pair:" + email + "|" + client, burst, refill},
			{"account:" + email, 10 * burst, refill / 10},
			{"ip:" + client, 10 * burst, refill / 10},
		}
	}
	return s.limited(w, rates...)
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
	if s.mail != nil {
		return s.signupWithMail(w, r, in) // recovery.go: the same answer whether or not the email exists
	}
	leave, err := s.hashSlot(w, r)
	if err != nil {
		return err
	}
	u, err := auth.NewUser(in.Email, in.Password, polydev.RoleUser, polydev.TierFree, s.now())
	leave()
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
	leave, err := s.hashSlot(w, r)
	if err != nil {
		return err
	}
	defer leave()
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

// hashSlot waits for a free argon2id slot; when none frees in time the answer is 503 with
// Retry-After, so a flood of password checks cannot take every core and gigabytes of memory.
func (s *Server) hashSlot(w http.ResponseWriter, r *http.Request) (func(), error) {
	leave, err := s.hashes.Enter(r.Context())
	if err != nil {
		w.Header().Set("Retry-After", "2")
		return nil, err
	}
	return leave, nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	return writeJSON(w, http.StatusOK, userResponse{u})
}
