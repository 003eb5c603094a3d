package polydev

import (
	"context"
	"time"
)

// UserSettings are a user's security preferences. What they may choose is bounded by the tier
// (TierLimits.Ephemeral); package policy decides what is in force.
type UserSettings struct {
	UserID string
	// EphemeralMode is the user's own choice; nil means "the tier's default".
	EphemeralMode *bool
	// ClientSideStorage is the preference for keeping chat history in the browser, encrypted there
	// (the web UI reads it); the server's own storing is governed by ephemeral mode alone.
	ClientSideStorage bool
	// StrictEphemeral refuses, in ephemeral mode, a request for which the user has no key of their
	// own, instead of serving it with a platform key and storing its conversation (encrypted).
	StrictEphemeral bool
	UpdatedAt       time.Time
}

// SettingsStore persists user settings.
type SettingsStore interface {
	// UserSettings returns userID's settings; a user who never saved any gets zero settings (tier
	// defaults everywhere), not ENOTFOUND.
	UserSettings(ctx context.Context, userID string) (*UserSettings, error)
	// PutUserSettings creates or replaces s.UserID's settings.
	PutUserSettings(ctx context.Context, s *UserSettings) error
}

// UserDataStore is what Polydev keeps about a user's activity beyond accounts and keys: settings,
// conversations and the reports drawn from usage records.
type UserDataStore interface {
	SettingsStore
	ConversationStore
	StatsStore
}
