-- Security settings, stored conversations (content sealed by the vault) and the metadata that is all
-- ephemeral mode keeps. Timestamps are BIGINT Unix milliseconds, money integer micro-dollars.
CREATE TABLE user_settings (
	user_id             TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	ephemeral_mode      BOOLEAN, -- NULL = the tier's default
	client_side_storage BOOLEAN NOT NULL DEFAULT FALSE,
	updated_at          BIGINT NOT NULL
);

-- A conversation's id is the client's sessionId. The title is content: a vault envelope.
CREATE TABLE conversations (
	id                TEXT PRIMARY KEY,
	user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	title             BLOB NOT NULL, -- vault envelope, AAD {conversations, title, id, user_id}
	title_dek_version BIGINT NOT NULL,
	provider          TEXT NOT NULL DEFAULT '',
	model             TEXT NOT NULL DEFAULT '',
	message_count     BIGINT NOT NULL DEFAULT 0,
	created_at        BIGINT NOT NULL,
	updated_at        BIGINT NOT NULL
);
CREATE INDEX conversations_user_updated ON conversations (user_id, updated_at);

CREATE TABLE messages (
	id              TEXT PRIMARY KEY,
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	seq             BIGINT NOT NULL,
	role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
	content         BLOB NOT NULL, -- vault envelope, AAD {messages, content, id, user_id}
	dek_version     BIGINT NOT NULL,
	created_at      BIGINT NOT NULL,
	UNIQUE (conversation_id, seq)
);
CREATE INDEX messages_user ON messages (user_id);

-- Ephemeral mode: metadata only, never content.
CREATE TABLE ephemeral_conversations (
	session_id        TEXT PRIMARY KEY,
	user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	provider          TEXT NOT NULL,
	model             TEXT NOT NULL,
	total_tokens      BIGINT NOT NULL DEFAULT 0,
	total_cost_micros BIGINT NOT NULL DEFAULT 0,
	message_count     BIGINT NOT NULL DEFAULT 0,
	created_at        BIGINT NOT NULL,
	last_message_at   BIGINT NOT NULL
);
CREATE INDEX ephemeral_conversations_user ON ephemeral_conversations (user_id, last_message_at);

-- The admin overview counts users active in a recent window.
CREATE INDEX usage_records_created ON usage_records (created_at);
