-- MCP: token scopes and the coding CLIs that `polydev mcp` finds on a user's machines.
-- An MCP token ("pdm_...") lives beside the API tokens with scope 'mcp': it reaches the MCP endpoint
-- and the CLI status report only (web/authn.go refuses it everywhere else).
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'api' CHECK (scope IN ('api', 'mcp'));

-- The seed's cli_provider_configurations, one row per (user, machine, CLI): the last report wins.
-- Metadata only: whether a CLI is installed, where, its version, whether it is signed in.
CREATE TABLE cli_provider_configurations (
	user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	machine         TEXT NOT NULL,
	provider        TEXT NOT NULL CHECK (provider IN ('claude_code', 'codex_cli', 'gemini_cli')),
	status          TEXT NOT NULL CHECK (status IN ('available', 'not_installed', 'error')),
	authenticated   BOOLEAN NOT NULL DEFAULT FALSE,
	cli_version     TEXT NOT NULL DEFAULT '',
	cli_path        TEXT NOT NULL DEFAULT '',
	last_checked_at BIGINT NOT NULL,
	created_at      BIGINT NOT NULL,
	PRIMARY KEY (user_id, machine, provider)
);
