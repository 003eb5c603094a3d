package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// TestMCPPageInChromium: an MCP token is created on the MCP page (shown once, pdm_), listed there and
// not among the API tokens, and revoked; a machine's CLI report shows.
func TestMCPPageInChromium(t *testing.T) {
	s := newSite(t)
	b := newBrowser(t, s)
	defer logShotDir(t)
	b.signup("lin@example.com")
	s.setTier(t, "lin@example.com", polydev.TierPro)
	u, err := s.Store.UserByEmail(t.Context(), "lin@example.com")
	must(t, err)
	now := time.Now().UTC()
	must(t, s.Store.PutCLIStatus(t.Context(), &polydev.CLIStatus{UserID: u.ID, Machine: "lin-laptop", Provider: polydev.CLIClaudeCode,
		Status: polydev.CLIAvailable, Authenticated: true, Version: "2.1.332", Path: "/usr/local/bin/claude", CheckedAt: now, CreatedAt: now}))

	b.visit("/settings/mcp")
	b.fill("#new-mcp input[name=name]", "agent box")
	b.click("#new-mcp button[type=submit]")
	b.until(`document.querySelector("#new-token-value").textContent.startsWith("pdm_")`)
	secret := b.text("#new-token-value")
	b.visit("/settings/mcp")
	if got := b.text("#mcp-tokens"); !strings.Contains(got, "agent box") || strings.Contains(got, secret) {
		t.Fatalf("MCP token list: want the name, not the secret:\n%s", got)
	}
	if got := b.text("#clis"); !strings.Contains(got, "lin-laptop") || !strings.Contains(got, "2.1.332") {
		t.Fatalf("CLI status table:\n%s", got)
	}
	b.shot("mcp")
	b.visit("/settings/tokens")
	if got := b.text("table"); strings.Contains(got, "agent box") {
		t.Fatalf("the MCP token is listed among the API tokens:\n%s", got)
	}
	b.visit("/settings/mcp")
	b.click("button[aria-label='Revoke agent box']")
	b.until(`document.readyState === "complete" && document.querySelector("#mcp-tokens").innerText.includes("No MCP tokens")`)
	b.check()
}
