package ui_test

import (
	"strings"
	"testing"
)

// TestPublicPagesInChromium: the public pages load under the CSP without a console error or a failed
// request, sign-up shows the API's refusal as its message, and sign-up, log out and log in work.
func TestPublicPagesInChromium(t *testing.T) {
	s := newSite(t)
	b := newBrowser(t, s)
	defer logShotDir(t)

	for _, p := range []struct{ path, name string }{{"/", "home"}, {"/pricing", "pricing"}, {"/login", "login"}, {"/signup", "signup"}} {
		b.visit(p.path)
		b.shot(p.name)
		if p.name == "pricing" {
			if got := b.text("table"); !strings.Contains(got, "Enterprise") || !strings.Contains(got, "Ephemeral mode") {
				t.Errorf("pricing table does not show the tiers in force:\n%s", got)
			}
		}
	}

	// A signed-out visitor asking for a private page is sent to log in, and brought back after.
	b.visit("/signup")
	b.fill("input[name=email]", "ada@example.com")
	b.fill("input[name=password]", "short")
	done := b.expectFailure("/api/account/signup")
	b.click("button[type=submit]")
	b.run(pollText("form .error", "at least"))
	if got := b.text("form .error"); strings.Contains(got, "{") {
		t.Errorf("error shown as raw JSON: %q", got)
	}
	done()
	b.check()
	b.fill("input[name=password]", "a long enough passphrase")
	b.click("button[type=submit]")
	b.waitPath("/dashboard")
	b.visit("/dashboard")
	b.shot("dashboard-empty")

	b.click("button[data-api='/api/account/logout']")
	b.waitPath("/")
	b.visit("/login?next=/pricing")
	b.fill("input[name=email]", "ada@example.com")
	b.fill("input[name=password]", "a long enough passphrase")
	b.click("button[type=submit]")
	b.waitPath("/pricing")
	if got := b.text("table"); !strings.Contains(got, "your plan") {
		t.Errorf("pricing does not mark the user's tier:\n%s", got)
	}
}
