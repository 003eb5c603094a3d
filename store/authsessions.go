package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/polydev/polydev"
)

const authSessionColumns = `id, user_id, provider, target_url, vm_id, status, reason, created_at, updated_at, expires_at,
	ended_at, vm_released_at, credential_name, credential, dek_version`

func scanAuthSession(s scanner) (*polydev.AuthSession, error) {
	var a polydev.AuthSession
	var created, updated, expires int64
	var ended, released sql.NullInt64
	var credName string
	var cred []byte
	var dekVersion int
	if err := s.Scan(&a.ID, &a.UserID, &a.Provider, &a.TargetURL, &a.VMID, &a.Status, &a.Reason, &created, &updated, &expires,
		&ended, &released, &credName, &cred, &dekVersion); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt, a.ExpiresAt = fromMS(created), fromMS(updated), fromMS(expires)
	a.EndedAt, a.VMReleasedAt = fromNullMS(ended), fromNullMS(released)
	if cred != nil {
		a.Credential = &polydev.AuthCredential{Name: credName, Sealed: cred, DEKVersion: dekVersion}
	}
	return &a, nil
}

// CreateAuthSession implements polydev.AuthSessionStore.
func (db *DB) CreateAuthSession(ctx context.Context, a *polydev.AuthSession) error {
	if !a.Status.Valid() || (a.Provider != "" && !a.Provider.Valid()) || (a.Provider == "") == (a.TargetURL == "") {
		return polydev.Errorf(polydev.EINVALID, "auth session needs a known status and exactly one of a provider or a target URL")
	}
	var credName string
	var cred []byte
	var dekVersion int
	if a.Credential != nil {
		credName, cred, dekVersion = a.Credential.Name, a.Credential.Sealed, a.Credential.DEKVersion
	}
	_, err := db.exec(ctx, `INSERT INTO auth_sessions (`+authSessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.UserID, string(a.Provider), a.TargetURL, a.VMID, string(a.Status), a.Reason, ms(a.CreatedAt), ms(a.UpdatedAt),
		ms(a.ExpiresAt), msPtr(a.EndedAt), msPtr(a.VMReleasedAt), credName, cred, dekVersion)
	if db.dialect.IsUniqueViolation(err) {
		return polydev.Errorf(polydev.ECONFLICT, "an auth session with this id already exists")
	}
	return err
}

// AuthSessionByID implements polydev.AuthSessionStore.
func (db *DB) AuthSessionByID(ctx context.Context, userID, id string) (*polydev.AuthSession, error) {
	if !lookupable(userID, id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "auth session not found")
	}
	a, err := scanAuthSession(db.queryRow(ctx, `SELECT `+authSessionColumns+` FROM auth_sessions WHERE id = ? AND user_id = ?`, id, userID))
	return a, notFound(err, "auth session")
}

// ListAuthSessions implements polydev.AuthSessionStore.
func (db *DB) ListAuthSessions(ctx context.Context, userID string, limit int) ([]*polydev.AuthSession, error) {
	if !lookupable(userID) {
		return []*polydev.AuthSession{}, nil
	}
	return db.listAuthSessions(ctx, `SELECT `+authSessionColumns+` FROM auth_sessions WHERE user_id = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`, userID, limit)
}

// RecentAuthSessions implements polydev.AuthSessionStore.
func (db *DB) RecentAuthSessions(ctx context.Context, limit int) ([]*polydev.AuthSession, error) {
	return db.listAuthSessions(ctx, `SELECT `+authSessionColumns+` FROM auth_sessions ORDER BY updated_at DESC, id DESC LIMIT ?`, limit)
}

// AuthSessionsToSweep implements polydev.AuthSessionStore.
func (db *DB) AuthSessionsToSweep(ctx context.Context, now time.Time, limit int) ([]*polydev.AuthSession, error) {
	return db.listAuthSessions(ctx, `SELECT `+authSessionColumns+` FROM auth_sessions
		WHERE (status IN ('pending', 'running') AND expires_at <= ?)
		   OR (status NOT IN ('pending', 'running') AND vm_id <> '' AND vm_released_at IS NULL)
		ORDER BY created_at, id LIMIT ?`, ms(now), limit)
}

func (db *DB) listAuthSessions(ctx context.Context, query string, args ...any) ([]*polydev.AuthSession, error) {
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.AuthSession{}
	for rows.Next() {
		a, err := scanAuthSession(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetAuthSessionVM implements polydev.AuthSessionStore.
func (db *DB) SetAuthSessionVM(ctx context.Context, id, vmID string, at time.Time) error {
	if vmID == "" {
		return polydev.Errorf(polydev.EINVALID, "VM id is empty")
	}
	return db.moveAuthSession(ctx, id, `UPDATE auth_sessions SET vm_id = ?, updated_at = ?
		WHERE id = ? AND status = 'pending' AND vm_id = ''`, vmID, ms(at), id)
}

// StartAuthSession implements polydev.AuthSessionStore.
func (db *DB) StartAuthSession(ctx context.Context, id string, at time.Time) error {
	return db.moveAuthSession(ctx, id, `UPDATE auth_sessions SET status = 'running', updated_at = ?
		WHERE id = ? AND status = 'pending'`, ms(at), id)
}

// CompleteAuthSession implements polydev.AuthSessionStore.
func (db *DB) CompleteAuthSession(ctx context.Context, id string, c *polydev.AuthCredential, at time.Time) error {
	if c == nil || len(c.Sealed) == 0 {
		return polydev.Errorf(polydev.EINVALID, "a completed session needs its sealed credential")
	}
	return db.moveAuthSession(ctx, id, `UPDATE auth_sessions SET status = 'completed', updated_at = ?, ended_at = ?,
		credential_name = ?, credential = ?, dek_version = ? WHERE id = ? AND status = 'running'`,
		ms(at), ms(at), c.Name, c.Sealed, c.DEKVersion, id)
}

// EndAuthSession implements polydev.AuthSessionStore.
func (db *DB) EndAuthSession(ctx context.Context, id string, to polydev.AuthSessionStatus, reason string, at time.Time) error {
	if to != polydev.AuthFailed && to != polydev.AuthCancelled && to != polydev.AuthExpired {
		return polydev.Errorf(polydev.EINVALID, "a session ends failed, cancelled or expired, not %q", to)
	}
	return db.moveAuthSession(ctx, id, `UPDATE auth_sessions SET status = ?, reason = ?, updated_at = ?, ended_at = ?
		WHERE id = ? AND status IN ('pending', 'running')`, string(to), reason, ms(at), ms(at), id)
}

// ReleaseAuthSessionVM implements polydev.AuthSessionStore.
func (db *DB) ReleaseAuthSessionVM(ctx context.Context, id string, at time.Time) error {
	return db.moveAuthSession(ctx, id, `UPDATE auth_sessions SET vm_released_at = ?, updated_at = ?
		WHERE id = ? AND vm_released_at IS NULL`, ms(at), ms(at), id)
}

// moveAuthSession runs one conditional UPDATE (a constant of this file) on session id: no row
// changed means either no such session (ENOTFOUND) or one not in the state the move starts from
// (ECONFLICT).
func (db *DB) moveAuthSession(ctx context.Context, id, update string, args ...any) error {
	if !lookupable(id) {
		return polydev.Errorf(polydev.ENOTFOUND, "auth session not found")
	}
	res, err := db.exec(ctx, update, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 1 {
		return err
	}
	var status string
	if err := db.queryRow(ctx, `SELECT status FROM auth_sessions WHERE id = ?`, id).Scan(&status); err != nil {
		return notFound(err, "auth session")
	}
	return polydev.Errorf(polydev.ECONFLICT, "auth session is %s", status)
}

// CountAuthSessions implements polydev.AuthSessionStore.
func (db *DB) CountAuthSessions(ctx context.Context) (*polydev.AuthSessionCounts, error) {
	var c polydev.AuthSessionCounts
	err := db.queryRow(ctx, `SELECT COUNT(*),
		CAST(COALESCE(SUM(CASE WHEN status IN ('pending', 'running') THEN 1 ELSE 0 END), 0) AS BIGINT),
		CAST(COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT)
		FROM auth_sessions`).Scan(&c.Total, &c.Active, &c.Completed)
	if err != nil {
		return nil, err
	}
	return &c, nil
}
