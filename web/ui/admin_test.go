package ui_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/polydev/polydev"
)

// TestAdminPagesInChromium: an administrator adds platform keys, moves one up with the keyboard
// (saved as the new order), sets a price override and resets it, changes a tier's limits and another
// user's tier and role, each through the pages and checked in the store; a non-admin gets the 403
// page; each admin page loads clean and is screenshotted.
func TestAdminPagesInChromium(t *testing.T) {
	s := newSite(t)
	b := newBrowser(t, s)
	defer logShotDir(t)
	ctx := t.Context()
	other := &polydev.User{ID: polydev.NewID(), Email: "member@example.com", PasswordHash: "x", Role: polydev.RoleUser,
		Tier: polydev.TierFree, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	must(t, s.Store.CreateUser(ctx, other))

	b.signup("root@example.com")
	done := b.expectFailure("/admin") // the 403 page is a failed request the test expects
	b.run(chromedp.Navigate(s.URL + "/admin"))
	b.until(`document.body.innerText.includes("for administrators")`)
	done()
	admin, err := s.Store.UserByEmail(ctx, "root@example.com")
	must(t, err)
	admin.Role = polydev.RoleAdmin
	must(t, s.Store.UpdateUser(ctx, admin))

	// Two platform keys, added through the form.
	for _, name := range []string{"first", "second"} {
		b.visit("/admin/providers")
		b.fill("#add-key input[name=keyName]", name)
		b.fill("#add-key input[name=apiKey]", "sk-test-"+name+"-0000")
		b.click("#add-key button[type=submit]")
		b.until(`document.querySelector("#platform-keys").innerText.includes("` + name + `")`)
	}
	b.visit("/admin/providers")
	b.shot("admin-providers")
	if got := order(t, s); !slices.Equal(got, []string{"first", "second"}) {
		t.Fatalf("order after adding = %v", got)
	}
	// Keyboard: the second key's handle, arrow up; the page says it saved, the store has it.
	b.run(chromedp.Focus(chromedp.CSS("button[aria-label^='Move second']")), chromedp.KeyEvent(kb.ArrowUp))
	b.until(`document.querySelector("#order-status").textContent.includes("Saved")`)
	if got := order(t, s); !slices.Equal(got, []string{"second", "first"}) {
		t.Fatalf("order after moving second up = %v, want [second first]", got)
	}
	b.visit("/admin/providers")
	if rows := b.text("#platform-keys tbody"); strings.Index(rows, "second") > strings.Index(rows, "first") {
		t.Fatalf("page order after reload:\n%s", rows)
	}

	// A key whose ciphertext was tampered with is flagged, as the API's listing flags it.
	keys, err := s.Store.ListProviderKeys(ctx, "")
	must(t, err)
	for _, k := range keys {
		if k.Name == "first" {
			k.Secret = append([]byte(nil), k.Secret...)
			k.Secret[len(k.Secret)-1] ^= 1 // one bit of the tag
			must(t, s.Store.UpdateProviderKey(ctx, k))
		}
	}
	b.visit("/admin/providers")
	if rows := b.text("#platform-keys tbody"); strings.Count(rows, "unreadable") != 1 {
		t.Fatalf("want exactly the tampered key flagged unreadable:\n%s", rows)
	}

	// A price override, then its reset.
	b.visit("/admin/pricing")
	b.fill("#set-price input[name=model]", "openai/gpt-4o-mini")
	b.fill("#set-price input[name=inputPerMTok]", "1.25")
	b.fill("#set-price input[name=outputPerMTok]", "5")
	b.click("#set-price button[type=submit]")
	b.until(`document.querySelector("button[aria-label='Reset openai/gpt-4o-mini']") !== null`)
	if p := override(t, s, "openai/gpt-4o-mini"); p == nil || p.InputPerMTok != 1_250_000 || p.OutputPerMTok != 5_000_000 {
		t.Fatalf("override stored = %+v, want $1.25 and $5 per million tokens", p)
	}
	b.shot("admin-pricing")
	b.click("button[aria-label='Reset openai/gpt-4o-mini']")
	b.until(`document.querySelector("button[aria-label='Reset openai/gpt-4o-mini']") === null && document.readyState === "complete"`)
	if p := override(t, s, "openai/gpt-4o-mini"); p != nil {
		t.Fatalf("override still stored after its reset: %+v", p)
	}

	// Tier limits: the free tier gets 7 requests a day.
	b.visit("/admin/tiers")
	b.fill("form[aria-label='Limits of the free tier'] input[name=requestsPerDay]", "7")
	b.submitAndReload("form[aria-label='Limits of the free tier'] button[type=submit]")
	lim, err := s.Store.TierLimitsFor(ctx, polydev.TierFree)
	must(t, err)
	if lim.RequestsPerDay == nil || *lim.RequestsPerDay != 7 {
		t.Fatalf("free tier requests per day = %v, want 7", lim.RequestsPerDay)
	}
	b.shot("admin-tiers")

	// Another user's tier and role.
	b.visit("/admin/users?q=member")
	form := "form[aria-label='Account of member@example.com']"
	b.run(chromedp.SetValue(chromedp.CSS(form+" select[name=tier]"), "pro"), chromedp.SetValue(chromedp.CSS(form+" select[name=role]"), "admin"))
	b.submitAndReload(form + " button[type=submit]")
	got, err := s.Store.UserByID(ctx, other.ID)
	must(t, err)
	if got.Tier != polydev.TierPro || got.Role != polydev.RoleAdmin {
		t.Fatalf("member after the change: tier %s role %s, want pro admin", got.Tier, got.Role)
	}
	b.visit("/admin/users")
	b.shot("admin-users")
	b.visit("/admin")
	b.shot("admin")
	b.check()
}

// order is the names of the platform keys in the order they are tried.
func order(t *testing.T, s *site) []string {
	t.Helper()
	keys, err := s.Store.ListProviderKeys(t.Context(), "")
	must(t, err)
	slices.SortStableFunc(keys, func(a, b *polydev.ProviderKey) int { return int(a.Priority - b.Priority) })
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
	}
	return names
}

// override is the admin override stored for model, nil when there is none.
func override(t *testing.T, s *site, model string) *polydev.ModelPrice {
	t.Helper()
	rows, err := s.Store.ListPriceOverrides(t.Context())
	must(t, err)
	for _, r := range rows {
		if r.Model == model && !r.Imported {
			return r
		}
	}
	return nil
}

// submitAndReload clicks a submit button of a form that reloads the page when the API accepted it,
// and waits for the new page (a mark on the old one's window is gone).
func (b *browser) submitAndReload(sel string) {
	b.t.Helper()
	js, _ := json.Marshal(sel)
	// A click from script: the reload it causes cannot interrupt a DevTools click in flight.
	_, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.__before_submit = true; document.querySelector(`+string(js)+`).click(); true`))
	must(b.t, err)
	b.until(`window.__before_submit === undefined && document.readyState === "complete"`)
	b.check()
}
