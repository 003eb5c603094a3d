package store

import (
	"context"

	"github.com/polydev/polydev"
)

const cliStatusColumns = `user_id, machine, provider, status, authenticated, cli_version, cli_path, last_checked_at, created_at`

// PutCLIStatus implements polydev.CLIStatusStore.
func (db *DB) PutCLIStatus(ctx context.Context, s *polydev.CLIStatus) error {
	_, err := db.exec(ctx, `INSERT INTO cli_provider_configurations (`+cliStatusColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, machine, provider) DO UPDATE SET status = excluded.status,
		authenticated = excluded.authenticated, cli_version = excluded.cli_version, cli_path = excluded.cli_path,
		last_checked_at = excluded.last_checked_at`,
		s.UserID, s.Machine, string(s.Provider), s.Status, s.Authenticated, s.Version, s.Path, ms(s.CheckedAt), ms(s.CreatedAt))
	return err
}

// ListCLIStatus implements polydev.CLIStatusStore.
func (db *DB) ListCLIStatus(ctx context.Context, userID string) ([]*polydev.CLIStatus, error) {
	rows, err := db.query(ctx, `SELECT `+cliStatusColumns+` FROM cli_provider_configurations WHERE user_id = ?
		ORDER BY machine, provider`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*polydev.CLIStatus{}
	for rows.Next() {
		var s polydev.CLIStatus
		var checked, created int64
		if err := rows.Scan(&s.UserID, &s.Machine, &s.Provider, &s.Status, &s.Authenticated, &s.Version, &s.Path, &checked, &created); err != nil {
			return nil, err
		}
		s.CheckedAt, s.CreatedAt = fromMS(checked), fromMS(created)
		out = append(out, &s)
	}
	return out, rows.Err()
}
