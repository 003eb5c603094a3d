package agent

// The coding CLIs whose login the agent runs. What each one needs was taken from its documentation
// and checked against the versions pinned in the golden image (vm/image/clis):
//   - Claude Code: `claude auth login` signs in to a Claude account in the browser and stores the OAuth
//     credential on Linux in ~/.claude/.credentials.json (JSON, a "claudeAiOauth" object).
//   - Codex CLI: `codex login` starts a local login server, opens the browser at auth.openai.com and
//     writes $CODEX_HOME/auth.json (~/.codex); `cli_auth_credentials_store="file"` keeps it in that
//     file rather than an OS keyring the guest does not have.
//   - Gemini CLI: it has no login subcommand; `gemini` with security.auth.selectedType "oauth-personal"
//     in ~/.gemini/settings.json starts "Login with Google" at once and caches the credential in
//     ~/.gemini/oauth_creds.json. It stays in its interactive session afterwards, so the runner types
//     /quit once the file exists, and the exit status decides as for the others.

// Provider is one CLI's login: the command, what it needs before it starts, and where it leaves its
// credential.
type Provider struct {
	Name    string
	Command []string // argv; argv[0] is looked up in PATH
	// CredentialFile is the credential's path relative to HOME; completion is the command exiting 0
	// with this file present.
	CredentialFile string
	// Files are written (relative to HOME, mode 0600) before the command starts, unless they exist.
	Files map[string]string
	// QuitInput is typed into the terminal once the credential file exists, for a CLI that stays in an
	// interactive session after signing in.
	QuitInput string
}

// Provider names, as the host's API spells them.
const (
	ProviderClaudeCode = "claude_code"
	ProviderCodexCLI   = "codex_cli"
	ProviderGeminiCLI  = "gemini_cli"
)

// DefaultProviders are the three CLIs of the golden image.
func DefaultProviders() map[string]Provider {
	return map[string]Provider{
		ProviderClaudeCode: {
			Name: ProviderClaudeCode, Command: []string{"claude", "auth", "login"},
			CredentialFile: ".claude/.credentials.json",
		},
		ProviderCodexCLI: {
			Name: ProviderCodexCLI, Command: []string{"codex", "login", "-c", `cli_auth_credentials_store="file"`},
			CredentialFile: ".codex/auth.json",
		},
		ProviderGeminiCLI: {
			Name: ProviderGeminiCLI, Command: []string{"gemini"},
			CredentialFile: ".gemini/oauth_creds.json",
			Files: map[string]string{
				".gemini/settings.json": `{"security":{"auth":{"selectedType":"oauth-personal"},"folderTrust":{"enabled":false}},"privacy":{"usageStatisticsEnabled":false}}` + "\n",
			},
			QuitInput: "/quit\r",
		},
	}
}
