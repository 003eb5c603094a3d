-- Provider keys (BYOK and platform) and wrapped data keys. Secrets are vault envelopes (BYTEA).
CREATE TABLE data_keys (
	owner_id    TEXT PRIMARY KEY, -- a user id, or 'platform'
	version     BIGINT NOT NULL,
	wrapped     BYTEA NOT NULL,    -- the DEK wrapped by KEK kek_version
	kek_version BIGINT NOT NULL,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);
CREATE INDEX data_keys_kek_version ON data_keys (kek_version, owner_id);

CREATE TABLE provider_keys (
	id                    TEXT PRIMARY KEY,
	user_id               TEXT REFERENCES users (id) ON DELETE CASCADE, -- NULL: platform key
	provider              TEXT NOT NULL CHECK (provider IN ('openai', 'anthropic', 'gemini', 'openai-compatible')),
	name                  TEXT NOT NULL,
	secret                BYTEA NOT NULL, -- vault envelope sealed with the owner's DEK
	dek_version           BIGINT NOT NULL,
	preview               TEXT NOT NULL,
	base_url              TEXT NOT NULL DEFAULT '',
	monthly_budget_micros BIGINT,
	daily_limit           BIGINT,
	rate_limit_rpm        BIGINT,
	priority              BIGINT NOT NULL DEFAULT 0,
	active                BOOLEAN NOT NULL DEFAULT TRUE,
	usage_month           TEXT NOT NULL DEFAULT '',
	month_spend_micros    BIGINT NOT NULL DEFAULT 0,
	usage_day             TEXT NOT NULL DEFAULT '',
	day_requests          BIGINT NOT NULL DEFAULT 0,
	total_requests        BIGINT NOT NULL DEFAULT 0,
	input_tokens          BIGINT NOT NULL DEFAULT 0,
	output_tokens         BIGINT NOT NULL DEFAULT 0,
	total_spend_micros    BIGINT NOT NULL DEFAULT 0,
	last_used_at          BIGINT,
	created_at            BIGINT NOT NULL,
	updated_at            BIGINT NOT NULL
);
CREATE INDEX provider_keys_owner ON provider_keys (user_id, provider, priority);
