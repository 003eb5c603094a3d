package store

import (
	"context"
	"time"

	"github.com/polydev/polydev"
)

// CreateSession implements polydev.SessionStore.
func (db *DB) CreateSession(ctx context.Context, s *polydev.Session) error {
	_, err := db.exec(ctx, `INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		s.ID, s.UserID, ms(s.CreatedAt), ms(s.LastSeenAt), ms(s.ExpiresAt))
	return err
}

// SessionByID implements polydev.SessionStore.
func (db *DB) SessionByID(ctx context.Context, id string) (*polydev.Session, error) {
	if !lookupable(id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "session not found")
	}
	var s polydev.Session
	var created, seen, expires int64
	err := db.queryRow(ctx, `SELECT id, user_id, created_at, last_seen_at, expires_at FROM sessions WHERE id = ?`, id).
		Scan(&s.ID, &s.UserID, &created, &seen, &expires)
	if err != nil {
		return nil, notFound(err, "session")
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromMS(created), fromMS(seen), fromMS(expires)
	return &s, nil
}

// TouchSession implements polydev.SessionStore.
func (db *DB) TouchSession(ctx context.Context, id string, at time.Time) error {
	res, err := db.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?`, ms(at), id, ms(at))
	if err != nil {
		return err
	}
	_, err = res.RowsAffected()
	return err
}

// DeleteSession implements polydev.SessionStore. Deleting a missing session is not an error: logout
// must be idempotent.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	_, err := db.exec(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return err
}

// DeleteUserSessions implements polydev.SessionStore.
func (db *DB) DeleteUserSessions(ctx context.Context, userID, except string) error {
	_, err := db.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, except)
	return err
}

// DeleteExpiredSessions implements polydev.SessionStore.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	res, err := db.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at < ?`, ms(now), ms(idleBefore))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
