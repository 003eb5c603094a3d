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
	s.setRole(t, "root@example.com", polydev.RoleAdmin)

	// Two platform keys, added through the form; the second moved above the first with the keyboard.
	adminAddKeys(t, b, s, "first", "second")
	b.shot("admin-providers")
	adminMoveUp(t, b, s, "second", []string{"second", "first"})

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
	adminSetPrice(t, b, s, "openai/gpt-4o-mini", "1.25", "5", 1_250_000, 5_000_000)
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
	adminSetAccount(t, b, s, "member@example.com", polydev.TierPro, polydev.RoleAdmin)
	b.visit("/admin/users")
	b.shot("admin-users")
	b.visit("/admin")
	b.shot("admin")
	b.check()
}

// adminAddKeys adds platform keys through the providers page, in order, and checks the store has
// them in that order.
func adminAddKeys(t *testing.T, b *browser, s *site, names ...string) {
	t.Helper()
	for _, name := range names {
		b.visit("/admin/providers")
		b.fill("#add-key input[name=keyName]", name)
		b.fill("#add-key input[name=apiKey]", "sk-test-"+name+"-0000")
		b.click("#add-key button[type=submit]")
		b.until(`document.querySelector("#platform-keys").innerText.includes("` + name + `")`)
	}
	b.visit("/admin/providers")
	if got := order(t, s); !slices.Equal(got, names) {
		t.Fatalf("order after adding = %v, want %v", got, names)
	}
}

// adminMoveUp moves a platform key one place up with the arrow key on its handle and checks the
// page says it saved, the store has want, and the reloaded page lists the key above its old place.
func adminMoveUp(t *testing.T, b *browser, s *site, name string, want []string) {
	t.Helper()
	b.run(chromedp.Focus(chromedp.CSS("button[aria-label^='Move "+name+"']")), chromedp.KeyEvent(kb.ArrowUp))
	b.until(`document.querySelector("#order-status").textContent.includes("Saved")`)
	if got := order(t, s); !slices.Equal(got, want) {
		t.Fatalf("order after moving %s up = %v, want %v", name, got, want)
	}
	b.visit("/admin/providers")
	rows := b.text("#platform-keys tbody")
	for i := 1; i < len(want); i++ {
		if strings.Index(rows, want[i-1]) > strings.Index(rows, want[i]) {
			t.Fatalf("page order after reload, want %v:\n%s", want, rows)
		}
	}
}

// adminSetPrice sets a price override (dollars per million tokens, as typed) through the pricing
// page and checks the store holds it in micro-dollars.
func adminSetPrice(t *testing.T, b *browser, s *site, model, in, out string, wantIn, wantOut int64) {
	t.Helper()
	b.visit("/admin/pricing")
	b.fill("#set-price input[name=model]", model)
	b.fill("#set-price input[name=inputPerMTok]", in)
	b.fill("#set-price input[name=outputPerMTok]", out)
	b.click("#set-price button[type=submit]")
	b.until(`document.querySelector("button[aria-label='Reset ` + model + `']") !== null`)
	if p := override(t, s, model); p == nil || int64(p.InputPerMTok) != wantIn || int64(p.OutputPerMTok) != wantOut {
		t.Fatalf("override stored = %+v, want %s and %s per million tokens", p, in, out)
	}
}

// adminSetAccount changes a user's tier and role through the users page and checks the store.
func adminSetAccount(t *testing.T, b *browser, s *site, email string, tier polydev.Tier, role polydev.Role) {
	t.Helper()
	b.visit("/admin/users?q=" + email)
	form := "form[aria-label='Account of " + email + "']"
	b.run(chromedp.SetValue(chromedp.CSS(form+" select[name=tier]"), string(tier)), chromedp.SetValue(chromedp.CSS(form+" select[name=role]"), string(role)))
	b.submitAndReload(form + " button[type=submit]")
	got, err := s.Store.UserByEmail(t.Context(), email)
	must(t, err)
	if got.Tier != tier || got.Role != role {
		t.Fatalf("%s after the change: tier %s role %s, want %s %s", email, got.Tier, got.Role, tier, role)
	}
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
