package store

import (
	"context"
	"database/sql"
	"errors"

	"github.com/polydev/polydev"
)

// UserSettings implements polydev.SettingsStore.
func (db *DB) UserSettings(ctx context.Context, userID string) (*polydev.UserSettings, error) {
	s := &polydev.UserSettings{UserID: userID}
	if !lookupable(userID) {
		return s, nil
	}
	var eph sql.NullBool
	var updated int64
	err := db.queryRow(ctx, `SELECT ephemeral_mode, client_side_storage, strict_ephemeral, updated_at FROM user_settings WHERE user_id = ?`, userID).
		Scan(&eph, &s.ClientSideStorage, &s.StrictEphemeral, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if eph.Valid {
		s.EphemeralMode = &eph.Bool
	}
	s.UpdatedAt = fromMS(updated)
	return s, nil
}

// PutUserSettings implements polydev.SettingsStore.
func (db *DB) PutUserSettings(ctx context.Context, s *polydev.UserSettings) error {
	eph := sql.NullBool{}
	if s.EphemeralMode != nil {
		eph = sql.NullBool{Bool: *s.EphemeralMode, Valid: true}
	}
	_, err := db.exec(ctx, `INSERT INTO user_settings (user_id, ephemeral_mode, client_side_storage, strict_ephemeral, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET ephemeral_mode = excluded.ephemeral_mode,
		client_side_storage = excluded.client_side_storage, strict_ephemeral = excluded.strict_ephemeral,
		updated_at = excluded.updated_at`,
		s.UserID, eph, s.ClientSideStorage, s.StrictEphemeral, ms(s.UpdatedAt))
	return err
}
