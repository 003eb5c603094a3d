package store

import (
	"cmp"
	"context"
	"database/sql"
	"time"

	"github.com/polydev/polydev"
)

const tokenColumns = `id, user_id, name, token_hash, hint, created_at, last_used_at, expires_at, revoked_at, scope`

func scanToken(s scanner) (*polydev.APIToken, error) {
	var t polydev.APIToken
	var created int64
	var used, expires, revoked sql.NullInt64
	if err := s.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Hint, &created, &used, &expires, &revoked, &t.Scope); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMS(created)
	t.LastUsedAt, t.ExpiresAt, t.RevokedAt = fromNullMS(used), fromNullMS(expires), fromNullMS(revoked)
	return &t, nil
}

// CreateToken implements polydev.TokenStore. An empty scope is stored, and set on t, as
// polydev.TokenScopeAPI.
func (db *DB) CreateToken(ctx context.Context, t *polydev.APIToken) error {
	t.Scope = cmp.Or(t.Scope, polydev.TokenScopeAPI)
	_, err := db.exec(ctx, `INSERT INTO api_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.UserID, t.Name, t.Hash, t.Hint, ms(t.CreatedAt), msPtr(t.LastUsedAt), msPtr(t.ExpiresAt), msPtr(t.RevokedAt), t.Scope)
	return err
}

// TokenByHash implements polydev.TokenStore.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*polydev.APIToken, error) {
	if !lookupable(hash) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "token not found")
	}
	t, err := scanToken(db.queryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE token_hash = ?`, hash))
	return t, notFound(err, "token")
}

// ListTokens implements polydev.TokenStore.
func (db *DB) ListTokens(ctx context.Context, userID string) ([]*polydev.APIToken, error) {
	rows, err := db.query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken implements polydev.TokenStore.
func (db *DB) RevokeToken(ctx context.Context, userID, id string, at time.Time) error {
	if !lookupable(userID, id) {
		return polydev.Errorf(polydev.ENOTFOUND, "token not found")
	}
	res, err := db.exec(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL`, ms(at), id, userID)
	return affectedOne(res, err, "token")
}

// TouchToken implements polydev.TokenStore.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := db.exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, ms(at), id)
	return err
}
