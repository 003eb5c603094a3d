package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/polydev/polydev"
)

const userColumns = `id, email, password_hash, role, tier, created_at, updated_at, disabled_at, email_verified_at`

type scanner interface{ Scan(dest ...any) error }

func scanUser(s scanner) (*polydev.User, error) {
	var u polydev.User
	var created, updated int64
	var disabled, verified sql.NullInt64
	if err := s.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.Tier, &created, &updated, &disabled, &verified); err != nil {
		return nil, err
	}
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	u.DisabledAt, u.EmailVerifiedAt = fromNullMS(disabled), fromNullMS(verified)
	return &u, nil
}

// CreateUser implements polydev.UserStore.
func (db *DB) CreateUser(ctx context.Context, u *polydev.User) error {
	_, err := db.exec(ctx, `INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.PasswordHash, u.Role, u.Tier, ms(u.CreatedAt), ms(u.UpdatedAt), msPtr(u.DisabledAt), msPtr(u.EmailVerifiedAt))
	if db.dialect.IsUniqueViolation(err) {
		return polydev.Errorf(polydev.ECONFLICT, "an account with this email already exists")
	}
	return err
}

// UserByID implements polydev.UserStore.
func (db *DB) UserByID(ctx context.Context, id string) (*polydev.User, error) {
	if !lookupable(id) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "user not found")
	}
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, notFound(err, "user")
}

// UserByEmail implements polydev.UserStore.
func (db *DB) UserByEmail(ctx context.Context, email string) (*polydev.User, error) {
	if !lookupable(email) {
		return nil, polydev.Errorf(polydev.ENOTFOUND, "user not found")
	}
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	return u, notFound(err, "user")
}

// UpdateUser implements polydev.UserStore.
func (db *DB) UpdateUser(ctx context.Context, u *polydev.User) error {
	res, err := db.exec(ctx, `UPDATE users SET role = ?, tier = ?, password_hash = ?, updated_at = ?, disabled_at = ?, email_verified_at = ? WHERE id = ?`,
		u.Role, u.Tier, u.PasswordHash, ms(u.UpdatedAt), msPtr(u.DisabledAt), msPtr(u.EmailVerifiedAt), u.ID)
	return affectedOne(res, err, "user")
}

// CountUsersByTier implements polydev.UserStore.
func (db *DB) CountUsersByTier(ctx context.Context) (map[polydev.Tier]int, error) {
	rows, err := db.query(ctx, `SELECT tier, COUNT(*) FROM users GROUP BY tier`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[polydev.Tier]int{}
	for rows.Next() {
		var t polydev.Tier
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, rows.Err()
}

// MaxUserPage bounds one page of ListUsers.
const MaxUserPage = 500

// ListUsers implements polydev.UserStore. Emails are stored lower-case, so the search is a plain
// substring match; its LIKE wildcards are escaped, so a search for "_" finds underscores.
func (db *DB) ListUsers(ctx context.Context, q polydev.UserQuery) ([]*polydev.User, error) {
	limit := q.Limit
	if limit <= 0 || limit > MaxUserPage {
		limit = MaxUserPage
	}
	pattern := "%" + likeEscaper.Replace(strings.ToLower(q.Search)) + "%"
	rows, err := db.query(ctx, `SELECT `+userColumns+` FROM users WHERE email > ? AND email LIKE ? ESCAPE '\' ORDER BY email LIMIT ?`,
		q.After, pattern, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
