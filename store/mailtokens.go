package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/polydev/polydev"
)

// CreateMailToken implements polydev.MailTokenStore. Removing the user's older tokens of the
// purpose and every expired token here keeps the table small without a sweeper of its own.
func (db *DB) CreateMailToken(ctx context.Context, t *polydev.MailToken) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := db.txExec(ctx, tx, `DELETE FROM mail_tokens WHERE (user_id = ? AND purpose = ?) OR expires_at <= ?`,
			t.UserID, t.Purpose, ms(t.CreatedAt)); err != nil {
			return err
		}
		_, err := db.txExec(ctx, tx, `INSERT INTO mail_tokens (id, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			t.Hash, t.UserID, t.Purpose, ms(t.CreatedAt), ms(t.ExpiresAt))
		return err
	})
}

var errMailTokenNotFound = polydev.Errorf(polydev.ENOTFOUND, "mail token not found")

// ConsumeMailToken implements polydev.MailTokenStore. The DELETE is what makes a token single-use:
// of two concurrent callers only one removes the row. An expired token is removed too, and refused.
func (db *DB) ConsumeMailToken(ctx context.Context, hash string, purpose polydev.MailPurpose, now time.Time) (string, error) {
	if !lookupable(hash) {
		return "", errMailTokenNotFound
	}
	var userID string
	var expires int64
	err := db.queryRow(ctx, `SELECT user_id, expires_at FROM mail_tokens WHERE id = ? AND purpose = ?`, hash, purpose).Scan(&userID, &expires)
	if err != nil {
		return "", notFound(err, "mail token")
	}
	res, err := db.exec(ctx, `DELETE FROM mail_tokens WHERE id = ? AND purpose = ?`, hash, purpose)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", err
	} else if n != 1 {
		return "", errMailTokenNotFound // another request used it first
	}
	if !now.Before(fromMS(expires)) {
		return "", errMailTokenNotFound
	}
	return userID, nil
}

// DeleteMailTokens implements polydev.MailTokenStore.
func (db *DB) DeleteMailTokens(ctx context.Context, userID string, purpose polydev.MailPurpose) error {
	_, err := db.exec(ctx, `DELETE FROM mail_tokens WHERE user_id = ? AND purpose = ?`, userID, purpose)
	return err
}
