-- Limits that hold under concurrency: per-key reservation counters updated atomically, reservation
-- rows so that a crashed process's reservations are found and settled, and per-user tier counters.
ALTER TABLE provider_keys ADD COLUMN month_reserved_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE provider_keys ADD COLUMN rpm_window BIGINT NOT NULL DEFAULT 0;
ALTER TABLE provider_keys ADD COLUMN rpm_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE provider_keys ADD COLUMN in_flight BIGINT NOT NULL DEFAULT 0;
ALTER TABLE provider_keys ADD COLUMN concurrency_limit BIGINT;

CREATE TABLE reservations (
	id            TEXT PRIMARY KEY,
	key_id        TEXT NOT NULL,
	user_id       TEXT NOT NULL,
	amount_micros BIGINT NOT NULL,
	created_at    BIGINT NOT NULL,
	expires_at    BIGINT NOT NULL
);
CREATE INDEX reservations_expires_at ON reservations (expires_at);

CREATE TABLE user_counters (
	user_id      TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	usage_day    TEXT NOT NULL,
	day_requests BIGINT NOT NULL,
	rpm_window   BIGINT NOT NULL,
	rpm_count    BIGINT NOT NULL
);

ALTER TABLE usage_records ADD COLUMN reservation_id TEXT NOT NULL DEFAULT '';
