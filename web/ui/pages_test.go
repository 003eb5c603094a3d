package ui_test

import (
	"strings"
	"testing"
)

// TestUserPagesInChromium: each signed-in page loads clean and is screenshotted; a token is shown
// once and revoked; an action the server refuses (a VM with VM support off) shows the API's message.
func TestUserPagesInChromium(t *testing.T) {
	s := newSite(t)
	b := newBrowser(t, s)
	defer logShotDir(t)
	b.signup("grace@example.com")
	s.setTier(t, "grace@example.com", "plus")

	for _, p := range []struct{ path, name string }{
		{"/dashboard", "dashboard-new"}, {"/settings/security", "security-plus"}, {"/settings/tokens", "tokens"},
		{"/logs", "logs-empty"}, {"/vms", "vms"},
	} {
		b.visit(p.path)
		b.shot(p.name)
	}

	// Tokens: created, shown once, listed by hint, revoked.
	b.visit("/settings/tokens")
	b.fill("input[name=name]", "laptop")
	b.click("form[data-api] button[type=submit]")
	b.until(`document.querySelector("#new-token-value").textContent.startsWith("pd_")`)
	secret := b.text("#new-token-value")
	b.click("#new-token a")
	b.waitPath("/settings/tokens")
	if got := b.text("table"); !strings.Contains(got, "laptop") || strings.Contains(got, secret) {
		t.Fatalf("token list: want the name and not the secret, got:\n%s", got)
	}
	b.click("button[aria-label='Revoke laptop']")
	b.until(`document.body.innerText.includes("Revoked and expired")`)

	// VM support is off here: the API's 503 message is what the page shows.
	b.visit("/vms")
	done := b.expectFailure("/api/vms")
	b.click("#create-vm")
	b.until(`document.querySelector("[data-errors] .error").textContent.includes("VM support")`)
	if got := b.text("[data-errors] .error"); strings.Contains(got, "{") {
		t.Errorf("error shown as raw JSON: %q", got)
	}
	done()
	b.check()
}
