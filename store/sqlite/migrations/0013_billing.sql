-- Billing: each user's Stripe customer and subscription as the last applied webhook event left them,
-- and the ids of applied events (an event id is recorded in the transaction that applies it, so a
-- redelivered event changes nothing).
CREATE TABLE subscriptions (
	user_id              TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	customer_id          TEXT NOT NULL UNIQUE,
	subscription_id      TEXT NOT NULL DEFAULT '',
	tier                 TEXT NOT NULL DEFAULT 'free',
	status               TEXT NOT NULL DEFAULT '',
	current_period_end   BIGINT,
	cancel_at_period_end BOOLEAN NOT NULL DEFAULT FALSE,
	payment_failed_at    BIGINT,
	grace_until          BIGINT,
	state_at             BIGINT NOT NULL DEFAULT 0,
	updated_at           BIGINT NOT NULL
);
CREATE INDEX subscriptions_grace_until ON subscriptions (grace_until);

CREATE TABLE billing_events (
	id          TEXT PRIMARY KEY,
	type        TEXT NOT NULL,
	user_id     TEXT NOT NULL DEFAULT '',
	created     BIGINT NOT NULL,
	received_at BIGINT NOT NULL
);
