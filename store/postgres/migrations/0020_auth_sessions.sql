-- Browser login sessions (the seed's auth_sessions): a user signs in to a coding CLI or a site in a
-- browser VM of their own; the credential file the login leaves is kept sealed with the user's DEK.
-- vm_id has no foreign key: the VM's record goes when the VM is destroyed, the session stays.
-- Timestamps are BIGINT Unix milliseconds (see store/db.go).
CREATE TABLE auth_sessions (
	id                TEXT PRIMARY KEY,
	user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	provider          TEXT NOT NULL DEFAULT '' CHECK (provider IN ('', 'claude_code', 'codex_cli', 'gemini_cli')),
	target_url        TEXT NOT NULL DEFAULT '',
	vm_id             TEXT NOT NULL DEFAULT '', -- '' until a VM is assigned
	status            TEXT NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'expired')),
	reason            TEXT NOT NULL DEFAULT '',
	created_at        BIGINT NOT NULL,
	updated_at        BIGINT NOT NULL,
	expires_at        BIGINT NOT NULL,
	ended_at          BIGINT,
	vm_released_at    BIGINT,
	credential_name   TEXT NOT NULL DEFAULT '',
	credential        BYTEA, -- vault envelope sealed with the user's DEK; NULL until completed
	dek_version       BIGINT NOT NULL DEFAULT 0,
	CHECK ((provider = '') <> (target_url = ''))
);
CREATE INDEX auth_sessions_user_created ON auth_sessions (user_id, created_at);
-- The expiry job's two questions: active sessions by expiry, and sessions whose VM is not released.
CREATE INDEX auth_sessions_status_expires ON auth_sessions (status, expires_at);
CREATE INDEX auth_sessions_unreleased ON auth_sessions (created_at) WHERE vm_id <> '' AND vm_released_at IS NULL;
