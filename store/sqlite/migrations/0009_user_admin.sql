-- Accounts an administrator can disable: a disabled user's sessions and tokens stop working and
-- login is refused until an administrator enables the account again (NULL = enabled).
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
