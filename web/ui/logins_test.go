package ui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// TestLoginsPageInChromium: the browser logins page lists a user's sessions with their status, the
// dashboard shows the ones in progress, a session that changes status in the background shows its
// new status without a click (the page polls), and starting one with VM support off shows the API's
// message. A free account's start buttons are disabled with the reason.
func TestLoginsPageInChromium(t *testing.T) {
	s := newSite(t)
	b := newBrowser(t, s)
	defer logShotDir(t)
	b.signup("ada@example.com")

	b.visit("/logins")
	if !b.evalBool(`document.querySelector("#start-provider").disabled && document.querySelector("#start-url").disabled`) {
		t.Fatal("a free account can start a browser login")
	}
	b.shot("logins-free")

	s.setTier(t, "ada@example.com", "plus")
	u, err := s.Store.UserByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	add := func(p polydev.CLIProvider, target string, at time.Time) *polydev.AuthSession {
		a := &polydev.AuthSession{ID: polydev.NewID(), UserID: u.ID, Provider: p, TargetURL: target, Status: polydev.AuthPending,
			CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(polydev.AuthSessionTTL)}
		if err := s.Store.CreateAuthSession(t.Context(), a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	done := add(polydev.CLICodex, "", now.Add(-time.Hour))
	must(t, s.Store.StartAuthSession(t.Context(), done.ID, now))
	must(t, s.Store.CompleteAuthSession(t.Context(), done.ID, &polydev.AuthCredential{Name: ".codex/auth.json", Sealed: []byte{1}}, now))
	failed := add("", "https://github.com/login/oauth/authorize?client_id=1", now.Add(-time.Minute))
	must(t, s.Store.EndAuthSession(t.Context(), failed.ID, polydev.AuthFailed, "the login VM stopped answering; start a new session", now))
	live := add(polydev.CLIClaudeCode, "", now)
	must(t, s.Store.SetAuthSessionVM(t.Context(), live.ID, polydev.NewID(), now))
	must(t, s.Store.StartAuthSession(t.Context(), live.ID, now))

	b.visit("/dashboard")
	if got := b.text("#active-logins"); !strings.Contains(got, "claude_code") || strings.Contains(got, "codex_cli") {
		t.Fatalf("dashboard's logins in progress: %q", got)
	}
	// An administrator sees the counts on the overview.
	u.Role = polydev.RoleAdmin
	must(t, s.Store.UpdateUser(t.Context(), u))
	b.visit("/admin")
	if got := b.text("#admin-logins"); !strings.Contains(got, "1 in progress · 1 completed · 3 in all") {
		t.Fatalf("admin overview: %q", got)
	}
	b.visit("/logins")
	table := b.text("#logins")
	for _, want := range []string{"claude_code", "running", "codex_cli", "completed", "github.com", "failed", "stopped answering", "Open viewer"} {
		if !strings.Contains(table, want) {
			t.Fatalf("logins table lacks %q:\n%s", want, table)
		}
	}
	b.shot("logins")

	// The session ends elsewhere (its VM expired, say): the page shows it on its own.
	must(t, s.Store.EndAuthSession(t.Context(), live.ID, polydev.AuthExpired, "expired", time.Now()))
	b.until(`document.querySelector("tr[data-session='` + live.ID + `']").dataset.status === "expired"`)

	// VM support is off here: the API's 503 message is what the page shows.
	end := b.expectFailure("/api/auth/session")
	b.click("#start-provider")
	b.until(`document.querySelector("form .error").textContent.includes("VM support")`)
	end()
	b.check()
}
