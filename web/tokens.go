package web

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/auth"
)

const (
	maxTokensPerUser = 100
	maxTokenNameLen  = 100
	maxTokenLifetime = 3650 // days
	defaultTokenName = "API token"
)

type createTokenRequest struct {
	Name          string `json:"name"`
	ExpiresInDays *int   `json:"expiresInDays"` // omitted or null = never expires
}

// createdToken is the only response that ever carries a token secret.
type createdToken struct {
	*polydev.APIToken
	Token string `json:"token"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	return s.createScopedToken(w, r, u, polydev.TokenScopeAPI)
}

// createScopedToken creates a token of the scope (API or MCP); the secret is in this response only.
func (s *Server) createScopedToken(w http.ResponseWriter, r *http.Request, u *polydev.User, scope polydev.TokenScope) error {
	var in createTokenRequest
	if err := s.decodeJSON(w, r, &in); err != nil {
		return err
	}
	name := strings.TrimSpace(in.Name)
	if name == "" {
		name = defaultTokenName
	}
	if utf8.RuneCountInString(name) > maxTokenNameLen || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return polydev.Errorf(polydev.EINVALID, "name must be at most %d printable characters", maxTokenNameLen)
	}
	now := s.now()
	tok := &polydev.APIToken{ID: polydev.NewID(), UserID: u.ID, Name: name, CreatedAt: now, Scope: scope}
	if in.ExpiresInDays != nil {
		d := *in.ExpiresInDays
		if d < 1 || d > maxTokenLifetime {
			return polydev.Errorf(polydev.EINVALID, "expiresInDays must be between 1 and %d, or omitted for no expiry", maxTokenLifetime)
		}
		exp := now.Add(time.Duration(d) * 24 * time.Hour)
		tok.ExpiresAt = &exp
	}
	existing, err := s.store.ListTokens(r.Context(), u.ID)
	if err != nil {
		return err
	}
	active := 0
	for _, t := range existing {
		if t.Active(now) {
			active++
		}
	}
	if active >= maxTokensPerUser {
		return polydev.Errorf(polydev.EINVALID, "at most %d active tokens per account; revoke one first", maxTokensPerUser)
	}
	secret, hash := auth.NewToken()
	if scope == polydev.TokenScopeMCP {
		secret, hash = auth.NewMCPToken()
	}
	tok.Hash, tok.Hint = hash, auth.TokenHint(secret)
	if err := s.store.CreateToken(r.Context(), tok); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, createdToken{APIToken: tok, Token: secret})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	return s.listScopedTokens(w, r, u, polydev.TokenScopeAPI)
}

// listScopedTokens lists the caller's tokens of one scope.
func (s *Server) listScopedTokens(w http.ResponseWriter, r *http.Request, u *polydev.User, scope polydev.TokenScope) error {
	toks, err := s.scopedTokens(r, u, scope)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tokens": toks})
}

func (s *Server) scopedTokens(r *http.Request, u *polydev.User, scope polydev.TokenScope) ([]*polydev.APIToken, error) {
	all, err := s.store.ListTokens(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	out := []*polydev.APIToken{}
	for _, t := range all {
		if t.Scope == scope {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, u *polydev.User) error {
	return s.revokeScopedToken(w, r, u, polydev.TokenScopeAPI)
}

// revokeScopedToken revokes one of the caller's tokens of the scope. It answers 404 for another
// user's token, or one of the other scope, exactly as for a missing one, so ids cannot be probed.
func (s *Server) revokeScopedToken(w http.ResponseWriter, r *http.Request, u *polydev.User, scope polydev.TokenScope) error {
	id := r.PathValue("id")
	if !polydev.ValidID(id) {
		return polydev.Errorf(polydev.ENOTFOUND, "token not found")
	}
	toks, err := s.scopedTokens(r, u, scope)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(toks, func(t *polydev.APIToken) bool { return t.ID == id }) {
		return polydev.Errorf(polydev.ENOTFOUND, "token not found")
	}
	if err := s.store.RevokeToken(r.Context(), u.ID, id, s.now()); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
