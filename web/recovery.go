package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
)

// Email verification and password reset by mail, on when the server has a mail sender
// (POLYDEV_SMTP_URL). The rules:
//
//   - sign-up and "forgot password" answer the same, and do the same work in the request, whether
//     or not the address has an account: the lookup and the mail happen in the outbox;
//   - mailed secrets are 256-bit, single use, stored as SHA-256, and expire (VerifyTTL, ResetTTL);
//     a newer one of the same purpose replaces the older; none is ever logged;
//   - an unverified account may sign in, read and change its own account, verify, and ask for
//     another link; the gateway, the chat, VMs, BYOK keys and MCP wait until it is verified
//     (verifiedFor).

var (
	errNoMail     = polydev.Errorf(polydev.EUNAVAILABLE, "this server sends no email (POLYDEV_SMTP_URL is not set); an administrator can reset your password")
	errBadLink    = polydev.Errorf(polydev.EINVALID, "this link is invalid, expired or already used; ask for a new one")
	errUnverified = polydev.Errorf(polydev.EFORBIDDEN, "verify your email address first: open the link we mailed you, or ask for a new one with POST /api/account/verify/resend")
)

// Rates of the mail routes (burst, then one more per refill).
const (
	resendBurst, resendRefill = 3, 10 * time.Minute  // per account: each one sends a mail
	forgotBurst, forgotRefill = 3, 10 * time.Minute  // per address: each one may send a mail
	linkBurst, linkRefill     = 20, 30 * time.Second // per client, for presenting secrets
)

// limited takes one attempt from every bucket, or answers 429 with Retry-After.
func (s *Server) limited(w http.ResponseWriter, rates ...rate) error {
	if ok, wait := s.limiter.allow(rates...); !ok {
		secs := int(wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return polydev.Errorf(polydev.ERATELIMIT, "too many attempts; try again in %d seconds", secs)
	}
	return nil
}

// signupWithMail is sign-up when mail is on: one answer, no session, whether or not the address
// already has an account. A new account starts unverified and is sent a link; the owner of an
// existing one is told that someone tried.
func (s *Server) signupWithMail(w http.ResponseWriter, r *http.Request, in credentials) error {
	leave, err := s.hashSlot(w, r)
	if err != nil {
		return err
	}
	// Hashing first, whatever happens next, keeps both cases the same work.
	u, err := auth.NewUser(in.Email, in.Password, polydev.RoleUser, polydev.TierFree, s.now())
	leave()
	if err != nil {
		return err // a bad email or password: the same answer for everyone
	}
	u.EmailVerifiedAt = nil
	switch err := s.store.CreateUser(r.Context(), u); {
	case polydev.ErrorCode(err) == polydev.ECONFLICT:
		email := u.Email
		s.outbox.post("signup-existing", func(ctx context.Context) error {
			if _, err := s.store.UserByEmail(ctx, email); err != nil {
				return err
			}
			return s.mail.Send(ctx, existingAccountMail(email))
		})
	case err != nil:
		return err
	default:
		s.log.Info("account created", "request_id", requestIDFrom(r.Context()), "user_id", u.ID, "verified", false)
		s.outbox.post("verify", func(ctx context.Context) error { return s.sendVerification(ctx, u) })
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{
		"message": "Check your email: we sent a link to finish signing up. You can sign in meanwhile; if the mail does not arrive, ask for another.",
	})
}

// sendVerification mails u a fresh verification link (replacing any earlier one).
func (s *Server) sendVerification(ctx context.Context, u *polydev.User) error {
	secret, err := s.newMailToken(ctx, u, polydev.MailVerify, auth.VerifyPrefix, s.cfg.VerifyTTL)
	if err != nil {
		return err
	}
	return s.mail.Send(ctx, s.verificationMail(u.Email, secret))
}

func (s *Server) newMailToken(ctx context.Context, u *polydev.User, purpose polydev.MailPurpose, prefix string, ttl time.Duration) (string, error) {
	secret, hash := auth.NewMailSecret(prefix)
	now := s.now()
	err := s.store.CreateMailToken(ctx, &polydev.MailToken{Hash: hash, UserID: u.ID, Purpose: purpose, CreatedAt: now, ExpiresAt: now.Add(ttl)})
	return secret, err
}

type tokenBody struct {
	Token string `json:"token"`
}

// verifyEmail marks the link's account verified. It needs no session: the link may be opened in
// another browser, and the secret is the credential.
func (s *Server) verifyEmail(w http.ResponseWriter, r *http.Request) error {
	if s.mail == nil {
		return errNoMail
	}
	var in tokenBody
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.limited(w, rate{"link-ip:" + s.clientIP(r), linkBurst, linkRefill}); err != nil {
		return err
	}
	u, err := s.consumeLink(r, in.Token, polydev.MailVerify, auth.VerifyPrefix)
	if err != nil {
		return err
	}
	if !u.Verified() {
		changed := *u
		now := s.now()
		changed.EmailVerifiedAt, changed.UpdatedAt = &now, now
		if err := s.store.UpdateUser(r.Context(), &changed); err != nil {
			return err
		}
	}
	s.log.Info("email verified", "request_id", requestIDFrom(r.Context()), "user_id", u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// consumeLink uses up a mailed secret and returns its account. Every failure is errBadLink.
func (s *Server) consumeLink(r *http.Request, secret string, purpose polydev.MailPurpose, prefix string) (*polydev.User, error) {
	hash, err := auth.ParseMailSecret(strings.TrimSpace(secret), prefix)
	if err != nil {
		return nil, errBadLink
	}
	id, err := s.store.ConsumeMailToken(r.Context(), hash, purpose, s.now())
	if isNotFound(err) {
		return nil, errBadLink
	} else if err != nil {
		return nil, err
	}
	u, err := s.store.UserByID(r.Context(), id)
	if isNotFound(err) {
		return nil, errBadLink
	}
	return u, err
}

// resendVerification mails the caller a new link, now: the caller knows the account exists, so
// the answer may say whether the mail went out.
func (s *Server) resendVerification(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if s.mail == nil {
		return errNoMail
	}
	if u.Verified() {
		return polydev.Errorf(polydev.ECONFLICT, "your email address is already verified")
	}
	if err := s.limited(w, rate{"resend:" + u.ID, resendBurst, resendRefill}); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := s.sendVerification(ctx, u); err != nil {
		return polydev.Wrap(polydev.EUNAVAILABLE, err, "the verification mail could not be sent; try again later")
	}
	s.log.Info("verification mail sent again", "request_id", requestIDFrom(r.Context()), "user_id", u.ID)
	return writeJSON(w, http.StatusAccepted, map[string]string{"message": "We sent you a new link; earlier ones no longer work."})
}

type emailBody struct {
	Email string `json:"email"`
}

// forgotPassword mails a reset link when the address has an enabled account. The answer, and the
// work done before it, are the same for every address: the lookup happens in the outbox.
func (s *Server) forgotPassword(w http.ResponseWriter, r *http.Request) error {
	if s.mail == nil {
		return errNoMail
	}
	var in emailBody
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	// Keyed on the address whether or not it has an account, so a 429 tells nothing either.
	if err := s.limited(w, rate{"forgot:" + email, forgotBurst, forgotRefill},
		rate{"forgot-ip:" + s.clientIP(r), 10 * forgotBurst, forgotRefill / 10}); err != nil {
		return err
	}
	s.outbox.post("reset", func(ctx context.Context) error {
		u, err := s.store.UserByEmail(ctx, email)
		if isNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		if u.Disabled() {
			return nil // its password is of no use until an administrator enables it
		}
		secret, err := s.newMailToken(ctx, u, polydev.MailReset, auth.ResetPrefix, s.cfg.ResetTTL)
		if err != nil {
			return err
		}
		s.log.Info("password reset mail", "service", "outbox", "user_id", u.ID)
		return s.mail.Send(ctx, s.resetMail(u.Email, secret))
	})
	return writeJSON(w, http.StatusAccepted, map[string]string{
		"message": "If an account uses this address, we sent it a link to set a new password.",
	})
}

type resetBody struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// resetPassword sets a new password with a mailed reset secret and ends every session of the
// account. It also proves the address, so an unverified account becomes verified.
func (s *Server) resetPassword(w http.ResponseWriter, r *http.Request) error {
	if s.mail == nil {
		return errNoMail
	}
	var in resetBody
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	// Checked before the secret is used up, so a too-short password does not cost the link.
	if err := polydev.CheckPassword(in.Password); err != nil {
		return err
	}
	if err := s.limited(w, rate{"link-ip:" + s.clientIP(r), linkBurst, linkRefill}); err != nil {
		return err
	}
	leave, err := s.hashSlot(w, r)
	if err != nil {
		return err
	}
	defer leave()
	u, err := s.consumeLink(r, in.Token, polydev.MailReset, auth.ResetPrefix)
	if err != nil {
		return err
	}
	if u.Disabled() {
		return errAccountDisabled
	}
	if !u.Verified() {
		now := s.now()
		u.EmailVerifiedAt = &now
	}
	if err := s.setPassword(r, u, in.Password, ""); err != nil {
		return err
	}
	clearSessionCookie(w)
	s.log.Info("password reset by mail", "request_id", requestIDFrom(r.Context()), "user_id", u.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// verifiedFor refuses an unverified account (mail on) the routes that spend or hold resources:
// the gateway, the chat, VMs, BYOK keys and MCP. Everything under /api/account stays open, so
// the account can verify, ask for another link, change its password and sign out.
func (s *Server) verifiedFor(r *http.Request, u *polydev.User) error {
	if s.mail == nil || u.Verified() {
		return nil
	}
	p := r.URL.Path
	for _, prefix := range []string{"/v1/", "/v1beta/", "/api/chat/", "/api/vms", "/api/api-keys", "/api/mcp", "/api/auth/session"} {
		if strings.HasPrefix(p, prefix) {
			return errUnverified
		}
	}
	return nil
}
