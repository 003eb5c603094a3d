package agent

// The coding CLIs whose login the agent runs. What each one needs was taken from its documentation
// and checked against the versions pinned in the golden image (vm/image/clis):
//   - Claude Code: `claude auth login` signs in to a Claude account in the browser and stores the OAuth
//     credential on Linux in ~/.claude/.credentials.json (JSON, a "claudeAiOauth" object).
//   - Codex CLI: `codex login` starts a local login server, opens the browser at auth.openai.com and
//     writes $CODEX_HOME/auth.json (~/.codex); `cli_auth_credentials_store = "file"` in its config.toml
//     keeps it in that file rather than an OS keyring the guest does not have.
//   - Gemini CLI: it has no login subcommand; with security.auth.selectedType "oauth-personal" in
//     ~/.gemini/settings.json it signs in with Google ("Login with Google") before its first request
//     and caches the credential in ~/.gemini/oauth_creds.json. Its interactive session did not start
//     the sign-in in a pty here (0.61.0: it stayed at its banner), its non-interactive mode does:
//     `gemini --prompt …` asks "Do you want to continue? [Y/n]" on the terminal (answered), opens the
//     browser with a loopback callback, and would then send the prompt, so the runner stops it as soon
//     as the credential file is written (StopOnCredential). It also refuses to open a browser when CI
//     or DEBIAN_FRONTEND=noninteractive is set, which the runner therefore removes (login.go).

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
	// Prompts are answered as they appear on the terminal, each once, in order.
	Prompts []Prompt
	// StopOnCredential is for a CLI that goes on after signing in: once its credential file exists
	// and has stopped changing, the runner stops the CLI and the login counts as completed whatever
	// its exit status.
	StopOnCredential bool
}

// Prompt is a question the CLI asks on its terminal before it opens the browser, which the user
// watching the browser over noVNC cannot see, so the runner answers it.
type Prompt struct {
	Expect string // text of the question, matched ignoring terminal escapes and white space
	Input  string // typed in answer
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
			Name: ProviderCodexCLI, Command: []string{"codex", "login"},
			CredentialFile: ".codex/auth.json",
			// Codex wants its home to exist; the setting keeps the login in auth.json.
			Files: map[string]string{".codex/config.toml": "cli_auth_credentials_store = \"file\"\n"},
		},
		ProviderGeminiCLI: {
			Name: ProviderGeminiCLI, Command: []string{"gemini", "--prompt", "Reply with OK."},
			CredentialFile: ".gemini/oauth_creds.json",
			Files: map[string]string{
				".gemini/settings.json": `{"security":{"auth":{"selectedType":"oauth-personal"},"folderTrust":{"enabled":false}},"privacy":{"usageStatisticsEnabled":false}}` + "\n",
			},
			// "Opening authentication page in your browser. Do you want to continue? [Y/n]"
			Prompts:          []Prompt{{Expect: "Do you want to continue?", Input: "\r"}},
			StopOnCredential: true,
		},
	}
}
