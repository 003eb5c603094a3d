-- Accounts: users, browser sessions, API tokens, and the admin-editable tier table.
-- Timestamps are BIGINT Unix milliseconds (see store/db.go).
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	email         TEXT NOT NULL UNIQUE,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
	tier          TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'plus', 'pro', 'enterprise')),
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
	id           TEXT PRIMARY KEY, -- SHA-256 of the cookie secret, hex
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at   BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_tokens (
	id           TEXT PRIMARY KEY,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	token_hash   TEXT NOT NULL UNIQUE, -- SHA-256 of the secret, hex
	hint         TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	last_used_at BIGINT,
	expires_at   BIGINT,
	revoked_at   BIGINT
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id, created_at);

CREATE TABLE tier_limits (
	tier                TEXT PRIMARY KEY CHECK (tier IN ('free', 'plus', 'pro', 'enterprise')),
	requests_per_day    BIGINT, -- NULL = unlimited
	requests_per_minute BIGINT, -- NULL = unlimited
	allowed_models      TEXT NOT NULL DEFAULT '[]', -- JSON array; empty = all models
	byok                TEXT NOT NULL CHECK (byok IN ('unavailable', 'available', 'required')),
	ephemeral           TEXT NOT NULL CHECK (ephemeral IN ('unavailable', 'opt_in', 'default_on', 'forced')),
	platform_keys       BOOLEAN NOT NULL,
	max_vms             BIGINT NOT NULL DEFAULT 0,
	updated_at          BIGINT NOT NULL
);

INSERT INTO tier_limits (tier, requests_per_day, requests_per_minute, allowed_models, byok, ephemeral, platform_keys, max_vms, updated_at) VALUES
	('free',       100,   10,   '["openai/gpt-4o-mini","anthropic/claude-haiku-4-5","gemini/gemini-2.5-flash"]', 'unavailable', 'unavailable', TRUE,  0,  0),
	('plus',       1000,  30,   '[]', 'available', 'opt_in',     TRUE,  1,  0),
	('pro',        10000, 120,  '[]', 'available', 'default_on', TRUE,  3,  0),
	('enterprise', NULL,  NULL, '[]', 'required',  'forced',     FALSE, 10, 0);
