package polydev

import (
	"context"
	"time"
)

// Session is a browser login. The cookie holds a random secret; only its SHA-256 (ID) is stored,
// so a database leak does not hand out live sessions.
type Session struct {
	ID         string // hex SHA-256 of the cookie secret
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry; idle expiry is LastSeenAt + the configured idle timeout
}

// APIToken is a long-lived bearer credential ("pd_..."). Only the SHA-256 of the secret is stored; the
// secret is shown once, at creation.
type APIToken struct {
	ID     string `json:"id"`
	UserID string `json:"-"`
	Name   string `json:"name"`
	Hash   string `json:"-"`
	Hint   string `json:"hint"` // "pd_…" plus the last four characters, to tell tokens apart
	// Scope is what the token may reach: TokenScopeAPI (everything its user may) or TokenScopeMCP
	// (the MCP endpoint and the CLI status report only). Empty is stored as TokenScopeAPI.
	Scope      TokenScope `json:"-"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

// TokenScope says what a token may reach.
type TokenScope string

const (
	TokenScopeAPI TokenScope = "api" // "pd_…": the whole API on behalf of its user
	TokenScopeMCP TokenScope = "mcp" // "pdm_…": the MCP endpoint and POST /api/cli-status-update only
)

// Active reports whether t may authenticate a request at time now.
func (t *APIToken) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// SessionStore persists browser sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	// SessionByID returns ENOTFOUND for unknown ids; callers check expiry.
	SessionByID(ctx context.Context, id string) (*Session, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions ends every session of the user except the one with id except ("" = all).
	DeleteUserSessions(ctx context.Context, userID, except string) error
	// DeleteExpiredSessions removes sessions past absolute expiry or idle since before idleBefore.
	DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error)
}

// TokenStore persists API tokens.
type TokenStore interface {
	CreateToken(ctx context.Context, t *APIToken) error
	// TokenByHash returns ENOTFOUND for unknown hashes, whatever the token's state.
	TokenByHash(ctx context.Context, hash string) (*APIToken, error)
	// ListTokens returns the user's tokens, newest first, revoked ones included.
	ListTokens(ctx context.Context, userID string) ([]*APIToken, error)
	// RevokeToken marks the user's token revoked; ENOTFOUND if it is not the user's or already revoked.
	RevokeToken(ctx context.Context, userID, id string, at time.Time) error
	TouchToken(ctx context.Context, id string, at time.Time) error
}
