package polydev

import (
	"context"
	"time"
)

// CLIProvider names a coding CLI that `polydev mcp` looks for on a user's machine. The names are the
// seed's.
type CLIProvider string

const (
	CLIClaudeCode CLIProvider = "claude_code"
	CLICodex      CLIProvider = "codex_cli"
	CLIGemini     CLIProvider = "gemini_cli"
)

// CLIProviders lists the CLIs in a stable order.
var CLIProviders = []CLIProvider{CLIClaudeCode, CLICodex, CLIGemini}

// Valid reports whether p is one of CLIProviders.
func (p CLIProvider) Valid() bool {
	for _, c := range CLIProviders {
		if p == c {
			return true
		}
	}
	return false
}

// CLI statuses a machine reports.
const (
	CLIAvailable    = "available"     // installed and runs
	CLINotInstalled = "not_installed" // not on the machine's PATH
	CLIError        = "error"         // found, but would not say its version
)

// CLIStatus is what one machine last reported about one coding CLI (the seed's
// cli_provider_configurations row, keyed by machine as well, since one user runs several). Only
// metadata: no credential ever leaves the machine, only whether one is present.
type CLIStatus struct {
	UserID        string      `json:"-"`
	Machine       string      `json:"machine"` // the reporting machine's host name, as it gave it
	Provider      CLIProvider `json:"provider"`
	Status        string      `json:"status"`
	Authenticated bool        `json:"authenticated"` // its credential files are present
	Version       string      `json:"cliVersion"`
	Path          string      `json:"cliPath"`
	CheckedAt     time.Time   `json:"lastCheckedAt"`
	CreatedAt     time.Time   `json:"createdAt"`
}

// CLIStatusStore persists CLI status reports.
type CLIStatusStore interface {
	// PutCLIStatus inserts or replaces the row of (user, machine, provider); CreatedAt is kept from
	// the first report.
	PutCLIStatus(ctx context.Context, s *CLIStatus) error
	// ListCLIStatus returns the user's rows ordered by machine, then provider.
	ListCLIStatus(ctx context.Context, userID string) ([]*CLIStatus, error)
}
