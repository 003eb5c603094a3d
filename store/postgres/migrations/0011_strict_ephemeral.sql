-- Strict ephemeral: a user in ephemeral mode who prefers a refusal to a platform key (whose
-- conversations are then stored, encrypted) for providers they have no key of their own for.
ALTER TABLE user_settings ADD COLUMN strict_ephemeral BOOLEAN NOT NULL DEFAULT FALSE;
