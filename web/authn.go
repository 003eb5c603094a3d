package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
)

// SessionCookie is the browser session cookie. The __Host- prefix makes browsers insist on Secure,
// Path=/ and no Domain, so no other host or path can set or read it.
const SessionCookie = "__Host-polydev_session"

// touchEvery limits last-seen writes to one per session or token per interval; idle expiry is exact to
// within this interval.
const touchEvery = time.Minute

// userHandlerFunc is a handler for an authenticated caller.
type userHandlerFunc func(w http.ResponseWriter, r *http.Request, u *polydev.User) error

var errAuthRequired = polydev.Errorf(polydev.EUNAUTHORIZED, "authentication required: send a session cookie or Authorization: Bearer pd_...")

// errBadToken is the one answer for unknown, malformed, revoked and expired tokens alike, so that the
// answer tells an attacker nothing about which it was.
var errBadToken = polydev.Errorf(polydev.EUNAUTHORIZED, "invalid API token")

// user requires an authenticated caller.
func (s *Server) user(h userHandlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.authenticate(w, r)
		if err != nil {
			return err
		}
		return h(w, r, u)
	}
}

// admin requires an authenticated admin.
func (s *Server) admin(h userHandlerFunc) handlerFunc {
	return s.user(func(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
		if !u.IsAdmin() {
			return polydev.Errorf(polydev.EFORBIDDEN, "this endpoint is for administrators")
		}
		return h(w, r, u)
	})
}

// csrfChecked refuses cross-origin browser requests to an unauthenticated endpoint that sets cookies
// (signup, login, logout), which would otherwise allow login CSRF.
func (s *Server) csrfChecked(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.csrf.Check(r); err != nil {
			return polydev.Wrap(polydev.EFORBIDDEN, err, "cross-origin request refused")
		}
		return h(w, r)
	}
}

// authenticate resolves the caller (identify) and refuses an unverified account the routes that
// wait for verification (verifiedFor, when mail is on).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*polydev.User, error) {
	u, err := s.identify(w, r)
	if err != nil {
		return nil, err
	}
	if err := s.verifiedFor(r, u); err != nil {
		return nil, err
	}
	return u, nil
}

// identify resolves the caller from a Bearer token (preferred) or the session cookie. Cookie
// authentication is ambient, so unsafe methods with it must also pass the cross-origin check; bearer
// tokens are not sent by browsers on their own, so they are exempt.
func (s *Server) identify(w http.ResponseWriter, r *http.Request) (*polydev.User, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		return s.authenticateToken(r, h)
	}
	if k := r.Header.Get("X-Api-Key"); k != "" {
		// Anthropic clients (Claude Code, the SDKs) send their key here.
		return s.authenticateToken(r, "Bearer "+k)
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, errAuthRequired
	}
	if err := s.csrf.Check(r); err != nil {
		return nil, polydev.Wrap(polydev.EFORBIDDEN, err, "cross-origin request refused")
	}
	u, err := s.sessionUser(r, c.Value)
	if err != nil {
		clearSessionCookie(w)
		return nil, err
	}
	return u, nil
}

func (s *Server) authenticateToken(r *http.Request, header string) (*polydev.User, error) {
	scheme, secret, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, polydev.Errorf(polydev.EUNAUTHORIZED, "Authorization header must be: Bearer pd_...")
	}
	secret = strings.TrimSpace(secret)
	if strings.HasPrefix(secret, auth.MCPTokenPrefix) {
		// Said plainly, since the token itself is fine: it is the wrong kind for this route.
		return nil, errMCPTokenScope
	}
	hash, err := auth.ParseToken(secret)
	if err != nil {
		return nil, errBadToken
	}
	return s.tokenUser(r, hash, polydev.TokenScopeAPI)
}

// errMCPTokenScope refuses an MCP token outside the MCP endpoint and the CLI status report.
var errMCPTokenScope = polydev.Errorf(polydev.EFORBIDDEN, "MCP tokens (pdm_...) work only at /mcp and /api/cli-status-update; use an API token (pd_...) or log in")

// tokenUser resolves a parsed token's hash to its user. Only a token of the given scope counts:
// any other is the same 401 as an unknown one (deny by default, whatever a token's shape says).
func (s *Server) tokenUser(r *http.Request, hash string, scope polydev.TokenScope) (*polydev.User, error) {
	ctx := r.Context()
	tok, err := s.store.TokenByHash(ctx, hash)
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		return nil, errBadToken
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	if !tok.Active(now) || tok.Scope != scope {
		return nil, errBadToken
	}
	u, err := s.store.UserByID(ctx, tok.UserID)
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		return nil, errBadToken
	} else if err != nil {
		return nil, err
	}
	if u.Disabled() {
		return nil, errAccountDisabled
	}
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) >= touchEvery {
		if err := s.store.TouchToken(ctx, tok.ID, now); err != nil {
			s.log.Warn("token touch failed", "request_id", requestIDFrom(ctx), "err", err)
		}
	}
	infoFrom(ctx).userID = u.ID
	return u, nil
}

// sessionUser checks a session cookie value: known, not past absolute expiry, not idle too long.
func (s *Server) sessionUser(r *http.Request, cookie string) (*polydev.User, error) {
	id := auth.SessionID(cookie)
	if id == "" {
		return nil, errSessionEnded
	}
	ctx := r.Context()
	sess, err := s.store.SessionByID(ctx, id)
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		return nil, errSessionEnded
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > s.cfg.SessionIdle {
		if err := s.store.DeleteSession(ctx, id); err != nil {
			s.log.Warn("expired session delete failed", "request_id", requestIDFrom(ctx), "err", err)
		}
		return nil, errSessionEnded
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	if polydev.ErrorCode(err) == polydev.ENOTFOUND {
		return nil, errSessionEnded
	} else if err != nil {
		return nil, err
	}
	if u.Disabled() {
		return nil, errAccountDisabled
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.TouchSession(ctx, id, now); err != nil {
			s.log.Warn("session touch failed", "request_id", requestIDFrom(ctx), "err", err)
		}
	}
	infoFrom(ctx).userID = u.ID
	return u, nil
}

// errAccountDisabled answers every credential of a disabled account. It is a 401, so clients stop
// rather than retry.
var errAccountDisabled = polydev.Errorf(polydev.EUNAUTHORIZED, "this account is disabled; contact an administrator")

var errSessionEnded = polydev.Errorf(polydev.EUNAUTHORIZED, "session expired or signed out; log in again")

// startSession creates a new session for u and sets its cookie. A session the request already carried
// is ended first, so login always yields a fresh id (no session fixation).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if id := auth.SessionID(c.Value); id != "" {
			if err := s.store.DeleteSession(r.Context(), id); err != nil {
				return err
			}
		}
	}
	secret, id := auth.NewSessionSecret()
	now := s.now()
	sess := &polydev.Session{ID: id, UserID: u.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.SessionMax)}
	if err := s.store.CreateSession(r.Context(), sess); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", MaxAge: int(s.cfg.SessionMax.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// isNotFound reports whether err is the store's ENOTFOUND.
func isNotFound(err error) bool {
	var e *polydev.Error
	return errors.As(err, &e) && e.Code == polydev.ENOTFOUND
}
