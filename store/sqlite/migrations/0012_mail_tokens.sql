-- Email verification and password reset by mail (POLYDEV_SMTP_URL).
-- email_verified_at: when the owner proved the address, or when there was nothing to prove it with;
-- accounts that predate this migration count as verified from their creation (they were made
-- without mail), so turning mail on later does not restrict them.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
UPDATE users SET email_verified_at = created_at;

-- Single-use mailed secrets; id is the SHA-256 of the secret (hex), never the secret.
CREATE TABLE mail_tokens (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX mail_tokens_user_id ON mail_tokens (user_id, purpose);
CREATE INDEX mail_tokens_expires_at ON mail_tokens (expires_at);
