package polydev

import (
	"context"
	"time"
)

// MailPurpose says what a mailed token proves when it comes back.
type MailPurpose string

const (
	MailVerify MailPurpose = "verify" // the owner receives mail at the account's address
	MailReset  MailPurpose = "reset"  // the owner may set a new password
)

// MailToken is a single-use secret sent by email in a link. Like API tokens, only the SHA-256 of
// the secret (Hash) is stored, so a database leak hands out no working link.
type MailToken struct {
	Hash      string
	UserID    string
	Purpose   MailPurpose
	CreatedAt time.Time
	ExpiresAt time.Time
}

// MailTokenStore persists mailed tokens.
type MailTokenStore interface {
	// CreateMailToken stores t. The user's earlier tokens of the same purpose are removed (only the
	// newest link works), and so is every expired token.
	CreateMailToken(ctx context.Context, t *MailToken) error
	// ConsumeMailToken removes the token with this hash and purpose and returns its user id when it
	// was still valid at now. Unknown, already used, expired and other-purpose tokens are the same
	// ENOTFOUND; of concurrent callers with one token, exactly one succeeds.
	ConsumeMailToken(ctx context.Context, hash string, purpose MailPurpose, now time.Time) (userID string, err error)
	// DeleteMailTokens removes the user's tokens of the given purpose.
	DeleteMailTokens(ctx context.Context, userID string, purpose MailPurpose) error
}
