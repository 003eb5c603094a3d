-- One row per gateway request: metadata only, never content.
CREATE TABLE usage_records (
	id                 TEXT PRIMARY KEY,
	user_id            TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	key_id             TEXT NOT NULL DEFAULT '',
	platform_key       BOOLEAN NOT NULL DEFAULT FALSE,
	provider           TEXT NOT NULL,
	model              TEXT NOT NULL,
	surface            TEXT NOT NULL,
	stream             BOOLEAN NOT NULL,
	status             TEXT NOT NULL,
	http_status        BIGINT NOT NULL,
	error_code         TEXT NOT NULL DEFAULT '',
	input_tokens       BIGINT NOT NULL,
	output_tokens      BIGINT NOT NULL,
	cache_read_tokens  BIGINT NOT NULL,
	cache_write_tokens BIGINT NOT NULL,
	reasoning_tokens   BIGINT NOT NULL,
	estimated          BOOLEAN NOT NULL,
	cost_micros        BIGINT NOT NULL,
	duration_ms        BIGINT NOT NULL,
	ttfb_ms            BIGINT NOT NULL,
	overhead_us        BIGINT NOT NULL,
	session_id         TEXT NOT NULL DEFAULT '',
	created_at         BIGINT NOT NULL
);
CREATE INDEX usage_records_user_created ON usage_records (user_id, created_at);
CREATE INDEX usage_records_key_created ON usage_records (key_id, created_at);
