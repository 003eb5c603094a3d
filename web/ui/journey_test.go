package ui_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// pageBudget is the most a page may transfer on a first load, everything included.
const pageBudget = 150 << 10

// TestJourneyInChromium is a user's whole path through the product in a real browser: sign up, add
// their own keys (fake upstreams), a streamed chat whose first words are painted while the upstream
// still holds its last chunk, several models side by side, ephemeral mode as each tier allows it,
// an API token, the request logs, then an administrator reordering platform keys, setting a price
// and changing the user's tier. It reports each page's first-load size and the time from a
// delta's arrival to its paint, measured in the page.
func TestJourneyInChromium(t *testing.T) {
	s := newSite(t)
	b := newBrowser(t, s)
	defer logShotDir(t)
	release := make(chan struct{})
	oa := testkit.NewOpenAI(t, testkit.WithScript(testkit.Script{
		Text:  "Paris is the capital of France, and it has been for a very long time indeed.",
		Usage: testkit.Usage{PromptTokens: 12, CompletionTokens: 17},
	}))
	oa.Enqueue(testkit.Script{Text: "Bonjour from the first answer, streamed word by word to the page.", HoldLast: release,
		Usage: testkit.Usage{PromptTokens: 9, CompletionTokens: 13}})
	an := testkit.NewAnthropic(t, testkit.WithScript(testkit.Script{Text: "Claude answers beside it.",
		Usage: testkit.Usage{PromptTokens: 11, CompletionTokens: 5}}))
	sizes := map[string]int64{}
	visit := func(path string) {
		t.Helper()
		n := b.visit(path)
		if old, ok := sizes[path]; !ok || n > old {
			sizes[path] = n
		}
	}

	for _, p := range []string{"/", "/pricing", "/login", "/signup"} {
		visit(p) // as a visitor: signed in, /login and /signup redirect
	}
	const email = "lin@example.com"
	b.signup(email)
	visit("/settings/security")
	if got := b.text("#eph-why"); !strings.Contains(got, "requires Plus") {
		t.Errorf("free tier: ephemeral should say it requires Plus, says %q", got)
	}
	b.shot("security-free")

	// Plus: own keys, one per provider, through the form.
	s.setTier(t, email, "plus")
	for _, k := range []struct {
		provider string
		up       *testkit.Upstream
	}{{"openai", oa}, {"anthropic", an}} {
		visit("/settings/security")
		b.run(chromedp.SetValue(chromedp.CSS("#add-key select[name=provider]"), k.provider))
		b.fill("#add-key input[name=keyName]", k.provider+" key")
		b.fill("#add-key input[name=apiKey]", k.up.Key)
		b.fill("#add-key input[name=baseUrl]", k.up.BaseURL())
		b.fill("#add-key input[name=monthlyBudget]", "25")
		b.click("#add-key button[type=submit]")
		b.until(`document.querySelector("#keys") && document.querySelector("#keys").innerText.includes("` + k.provider + ` key")`)
	}
	if got := b.text("#keys"); strings.Contains(got, oa.Key) || !strings.Contains(got, "$25.00") {
		t.Errorf("keys table: want a preview and the budget, never the key:\n%s", got)
	}
	b.shot("security-plus-keys")

	// Chat, streamed: the first words are on screen while the upstream holds its last chunk.
	visit("/chat")
	b.run(chromedp.SetValue(chromedp.CSS("#m0"), "openai/gpt-4o-mini"))
	b.fill("#prompt", "Say hello")
	b.click("#send")
	b.until(`(document.querySelector(".pane .msg.assistant")?.textContent || "").includes("first answer")`)
	if st := b.evalString(`document.querySelector(".pane .msg.assistant").dataset.state`); st != "streaming" || oa.Holding() != 1 {
		t.Fatalf("first tokens should be painted while the upstream holds its last chunk: state %q, held streams %d", st, oa.Holding())
	}
	if got := b.text(".pane .msg.assistant"); strings.Contains(got, "page.") {
		t.Fatalf("the held last chunk is already painted: %q", got)
	}
	close(release)
	b.until(`document.querySelector(".pane .msg.assistant").dataset.state === "done"`)
	if got := b.text(".pane .msg.assistant"); got != "Bonjour from the first answer, streamed word by word to the page." {
		t.Errorf("answer painted as %q", got)
	}

	// Several models side by side, in the same conversation panes.
	b.run(chromedp.SetValue(chromedp.CSS("#m1"), "anthropic/claude-haiku-4-5"))
	b.fill("#prompt", "And the capital of France?")
	b.click("#send")
	b.until(`[...document.querySelectorAll(".pane")].length === 2 && [...document.querySelectorAll(".pane .msg.assistant")].every((m) => m.dataset.state === "done")`)
	if got := b.text("#panes"); !strings.Contains(got, "Paris is the capital") || !strings.Contains(got, "Claude answers beside it.") {
		t.Errorf("side by side: want both answers, got:\n%s", got)
	}
	b.shot("chat")
	paints := b.evalFloats(`performance.getEntriesByName("polydev:delta-paint").map((e) => e.duration)`)
	if len(paints) == 0 {
		t.Fatal("no delta-paint measures recorded")
	}
	sort.Float64s(paints)
	t.Logf("delta arrival to paint over %d deltas: median %.1f ms, p90 %.1f ms, max %.1f ms",
		len(paints), paints[len(paints)/2], paints[len(paints)*9/10], paints[len(paints)-1])

	// The stored conversation reopens with its messages.
	visit("/chat")
	b.click("#conv-list li a")
	b.until(`location.search.startsWith("?c=") && document.querySelectorAll(".pane .msg").length >= 2`)
	// Renamed from the list: the new title is shown, the old one gone.
	b.click("#conv-list li details.rename summary")
	b.fill("#conv-list li details.rename input[name=title]", "Capitals")
	b.clickReload("#conv-list li details.rename button[type=submit]")
	if got := b.text("#conv-list"); !strings.Contains(got, "Capitals") {
		t.Errorf("after rename the list shows:\n%s", got)
	}

	// Ephemeral per tier. Plus: opt-in; turned on, the next answer is not stored and says so.
	visit("/settings/security")
	if b.evalBool(`document.querySelector("#ephemeral").checked || document.querySelector("#ephemeral").disabled`) {
		t.Error("plus: ephemeral should be off by default and changeable")
	}
	b.clickReload("#ephemeral")
	if !b.evalBool(`document.querySelector("#ephemeral").checked`) {
		t.Fatal("plus: ephemeral did not turn on")
	}
	visit("/chat")
	b.fill("#prompt", "Forget this")
	b.click("#send")
	b.until(`document.querySelector(".pane .msg.assistant")?.dataset.state === "done"`)
	if got := b.text(".pane .pane-eph"); got != "ephemeral" {
		t.Errorf("plus with ephemeral on and an own key: pane says %q", got)
	}
	b.shot("chat-ephemeral")
	// Pro: on by default, may be turned off.
	s.setTier(t, email, "pro")
	mustResetEphemeral(t, s, email)
	visit("/settings/security")
	if !b.evalBool(`document.querySelector("#ephemeral").checked && !document.querySelector("#ephemeral").disabled`) {
		t.Error("pro: ephemeral should be on by default and changeable")
	}
	b.clickReload("#ephemeral")
	if b.evalBool(`document.querySelector("#ephemeral").checked`) {
		t.Fatal("pro: ephemeral did not turn off")
	}
	// Enterprise: forced on, shown locked.
	s.setTier(t, email, "enterprise")
	visit("/settings/security")
	if !b.evalBool(`document.querySelector("#ephemeral").checked && document.querySelector("#ephemeral").disabled`) {
		t.Error("enterprise: ephemeral should be on and locked")
	}
	if got := b.text("#eph-why"); !strings.Contains(got, "locked") {
		t.Errorf("enterprise: want the lock explained, got %q", got)
	}
	b.shot("security-enterprise")
	s.setTier(t, email, "plus")

	// An API token, shown once.
	visit("/settings/tokens")
	b.fill("input[name=name]", "cli")
	b.click("form[data-api] button[type=submit]")
	b.until(`document.querySelector("#new-token-value").textContent.startsWith("pd_")`)
	b.shot("tokens-created")

	// Request logs: every call is there, and the provider filter keeps one provider's.
	visit("/logs")
	logs := b.text("#logs")
	for _, m := range []string{"gpt-4o-mini", "claude-haiku-4-5"} {
		if !strings.Contains(logs, m) {
			t.Errorf("request logs lack %s:\n%s", m, logs)
		}
	}
	b.shot("logs")
	visit("/logs?provider=anthropic")
	if got := b.text("#logs"); strings.Contains(got, "gpt-4o-mini") || !strings.Contains(got, "claude-haiku-4-5") {
		t.Errorf("filtered logs:\n%s", got)
	}

	visit("/dashboard")
	if got := b.text("#total-tokens"); got == "0" {
		t.Error("dashboard shows no tokens after the chats")
	}
	b.shot("dashboard")
	visit("/vms")

	// An administrator's turn: the platform keys' order, a price, and this user's tier.
	b.click("button[data-api='/api/account/logout']")
	b.waitPath("/")
	const ops = "ops@example.com"
	b.signup(ops)
	s.setRole(t, ops, polydev.RoleAdmin)
	for _, p := range []string{"/admin", "/admin/providers", "/admin/pricing", "/admin/tiers", "/admin/users"} {
		visit(p)
	}
	adminAddKeys(t, b, s, "primary", "backup")
	adminMoveUp(t, b, s, "backup", []string{"backup", "primary"})
	adminSetPrice(t, b, s, "anthropic/claude-haiku-4-5", "0.8", "4", 800_000, 4_000_000)
	adminSetAccount(t, b, s, email, polydev.TierPro, polydev.RoleUser)
	// The user sees the new plan when they sign in again.
	b.click("button[data-api='/api/account/logout']")
	b.waitPath("/")
	b.visit("/login")
	b.fill("input[name=email]", email)
	b.fill("input[name=password]", pw)
	b.click("button[type=submit]")
	b.waitPath("/dashboard")
	if got := b.text(".tier"); !strings.EqualFold(got, "pro") {
		t.Errorf("after the admin's change the dashboard shows plan %q, want pro", got)
	}

	var paths []string
	for p := range sizes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var report strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&report, "\n  %-22s %6.1f KB", p, float64(sizes[p])/1024)
		if sizes[p] > pageBudget {
			t.Errorf("%s transferred %d bytes on a first load, over the %d budget", p, sizes[p], pageBudget)
		}
	}
	t.Logf("first-load transfer per page (cache off, everything included):%s", report.String())
}
