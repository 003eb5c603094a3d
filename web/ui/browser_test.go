package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser drives a real Chromium (Debian's package) over the DevTools protocol against a site. It
// records every console error, uncaught exception, CSP violation and failed request as a problem;
// check fails the test on any that was not expected.
type browser struct {
	t    *testing.T
	ctx  context.Context
	site *site

	mu       sync.Mutex
	problems []string
	expected []string          // URL parts of requests the test expects to fail (an API error it shows)
	reqURL   map[string]string // request id → URL, to name failures
	loaded   int64             // bytes received since the last visit began
}

// cspWatch runs in every page before its own scripts (DevTools-injected, so CSP does not apply to
// it): a securitypolicyviolation becomes a console error, which the browser records as a problem.
const cspWatch = `document.addEventListener("securitypolicyviolation", (e) =>
  console.error("CSP violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber));`

func newBrowser(t *testing.T, s *site) *browser {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("SKIP: chromium is not installed (make test installs Debian's chromium; or apt-get install chromium)")
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium),
		chromedp.Flag("ignore-certificate-errors", true), // the test server's self-signed loopback certificate
		// Loopback only: every host name but 127.0.0.1 fails to resolve, so nothing a page (or the
		// browser itself) asks for can leave the machine.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to sandbox as root
	}
	// A bound for a hung browser, not a measurement.
	tctx, cancelT := context.WithTimeout(t.Context(), 4*time.Minute)
	actx, cancelA := chromedp.NewExecAllocator(tctx, opts...)
	b := &browser{t: t, site: s, reqURL: map[string]string{}}
	ctx, cancelC := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() { cancelC(); cancelA(); cancelT() })
	b.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	must(t, call(ctx, runtime.Enable, cdp.Empty{}))
	must(t, call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}))
	_, err = chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch})
	must(t, err)
	go b.acceptDialogs()
	return b
}

func call[P any](ctx context.Context, cmd cdp.Command[P, cdp.Empty], p P) error {
	_, err := chromedp.Call(ctx, cmd, p)
	return err
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// acceptDialogs answers confirm() with OK, as a user confirming a delete would.
func (b *browser) acceptDialogs() {
	for _, err := range chromedp.Events(b.ctx, page.JavascriptDialogOpening) {
		if err != nil {
			return
		}
		go func() {
			_ = call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}()
	}
}

func (b *browser) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				if len(a.Value) > 0 {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			b.problems = append(b.problems, "console error: "+strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("uncaught exception: %s (%s:%d)", msg, d.URL, d.LineNumber))
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError && !b.isExpected(e.Entry.URL) {
			b.problems = append(b.problems, fmt.Sprintf("browser log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		b.reqURL[string(e.RequestID)] = e.Request.URL
		if !strings.HasPrefix(e.Request.URL, b.site.URL) && !strings.HasPrefix(e.Request.URL, "data:") {
			b.problems = append(b.problems, "request to another origin: "+e.Request.URL)
		}
	case *network.EventResponseReceived:
		if e.Response.Status >= 400 && !b.isExpected(e.Response.URL) {
			b.problems = append(b.problems, fmt.Sprintf("HTTP %d for %s", e.Response.Status, e.Response.URL))
		}
	case *network.EventLoadingFailed:
		// A request the page cancelled itself (Stop in the chat, a navigation) is not a failure.
		if !e.Canceled || e.BlockedReason != "" {
			b.problems = append(b.problems, fmt.Sprintf("request failed: %s %s %s", b.reqURL[string(e.RequestID)], e.ErrorText, e.BlockedReason))
		}
	case *network.EventLoadingFinished:
		b.loaded += int64(e.EncodedDataLength)
	}
}

func (b *browser) isExpected(url string) bool {
	for _, p := range b.expected {
		if url != "" && strings.Contains(url, p) {
			return true
		}
	}
	return false
}

// expectFailure declares that requests whose URL contains part may fail (the API refusing something
// the test does on purpose, whose message the page must show) until the returned func is called.
func (b *browser) expectFailure(part string) (done func()) {
	b.mu.Lock()
	b.expected = append(b.expected, part)
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if i := slices.Index(b.expected, part); i >= 0 {
			b.expected = slices.Delete(b.expected, i, i+1)
		}
	}
}

// check fails the test on every problem recorded so far.
func (b *browser) check() {
	b.t.Helper()
	b.mu.Lock()
	probs := b.problems
	b.problems = nil
	b.mu.Unlock()
	for _, p := range probs {
		b.t.Errorf("in the browser: %s", p)
	}
	if len(probs) > 0 {
		b.t.FailNow()
	}
}

// run runs actions, failing the test (with what the page showed) if one fails.
func (b *browser) run(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		b.t.Fatalf("browser: %v\npage %s shows:\n%s", err, b.location(), body)
	}
}

func (b *browser) location() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.href`))
	return loc
}

// visit loads a page and returns the bytes it took over the network (cache off: a first load),
// after checking it loaded without a problem and that its controls are labelled.
func (b *browser) visit(path string) int64 {
	b.t.Helper()
	b.mu.Lock()
	b.loaded = 0
	b.mu.Unlock()
	b.run(chromedp.Navigate(b.site.URL + path))
	b.run(chromedp.Poll[chromedp.Void](`document.readyState === "complete"`))
	b.checkLabels()
	b.check()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.loaded
}

// checkLabels fails on a form control without an accessible name (a label, aria-label or
// aria-labelledby), or a button without text: every control must be usable without seeing it.
func (b *browser) checkLabels() {
	b.t.Helper()
	bad, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("input:not([type=hidden]), select, textarea, button")]
	  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby") && !(el.tagName === "BUTTON" && el.textContent.trim()))
	  .map((el) => el.outerHTML.slice(0, 120))`))
	must(b.t, err)
	for _, el := range bad {
		b.t.Errorf("%s: control without a label: %s", b.location(), el)
	}
}

// waitPath waits until the browser is on path (after a redirect or a script's navigation).
func (b *browser) waitPath(path string) {
	b.t.Helper()
	js, _ := json.Marshal(path)
	b.until(`location.pathname === ` + string(js) + ` && document.readyState === "complete"`)
	b.check()
}

// until evaluates a JavaScript condition until it holds, through navigations (which interrupt an
// evaluation); the bound is for a page that never gets there, not a measurement.
func (b *browser) until(cond string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	b.t.Fatalf("waiting for %s on %s: %v\npage shows:\n%s", cond, b.location(), last, body)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second) // a bound for a missing element, not a measure
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		b.t.Fatalf("text of %s on %s: %v", sel, b.location(), err)
	}
	return s
}

// fill types into a field as a user would (focus, keys).
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	js, _ := json.Marshal(sel)
	b.run(chromedp.Poll[chromedp.Void](`(() => { const el = document.querySelector(`+string(js)+`); if (!el) return false; el.value = ""; return true })()`),
		chromedp.SendKeys(chromedp.CSS(sel), value))
}

func (b *browser) click(sel string) {
	b.t.Helper()
	// A page script may replace the element between its lookup and the click (the chat page
	// re-renders its conversation list after load): a click on a node gone stale is tried again on
	// a fresh lookup, a few times; any other error fails at once.
	for range 3 {
		err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "Could not find node with given id") {
			break
		}
	}
	b.run(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// shotDir is where screenshots go: $POLYDEV_SCREENSHOTS (make test sets it and names it at the end),
// or a new temporary directory that the test names in its log.
var shotDir = sync.OnceValues(func() (string, error) {
	if d := os.Getenv("POLYDEV_SCREENSHOTS"); d != "" {
		return d, os.MkdirAll(d, 0o755)
	}
	return os.MkdirTemp("", "polydev-screenshots-")
})

// widths are the screenshot widths: a phone and a desktop.
var widths = []int64{390, 1280}

// shot saves the current page at both widths in light mode, and at the desktop width in dark mode.
func (b *browser) shot(name string) {
	b.t.Helper()
	dir, err := shotDir()
	must(b.t, err)
	save := func(file string) {
		png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
		must(b.t, err)
		must(b.t, os.WriteFile(filepath.Join(dir, file), png, 0o644))
	}
	for _, w := range widths {
		b.run(chromedp.EmulateViewport(w, 844, func(p *emulation.SetDeviceMetricsOverrideParams, _ *emulation.SetTouchEmulationEnabledParams) {
			p.Mobile = w < 600
		}))
		save(fmt.Sprintf("%s-%d.png", name, w))
	}
	must(b.t, call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}))
	save(fmt.Sprintf("%s-%d-dark.png", name, widths[len(widths)-1]))
	must(b.t, call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}))
	b.check()
}

func logShotDir(t *testing.T) {
	if dir, err := shotDir(); err == nil {
		t.Logf("screenshots: %s", dir)
	}
}

// pollText waits until the element's text contains want.
func pollText(sel, want string) chromedp.Action[chromedp.Void] {
	s, _ := json.Marshal(sel)
	w, _ := json.Marshal(want)
	return chromedp.Poll[chromedp.Void](`(document.querySelector(` + string(s) + `)?.textContent || "").includes(` + string(w) + `)`)
}

// pw is the password of the users the tests sign up.
const pw = "a long enough passphrase"

// signup creates an account through the sign-up page and lands on the dashboard.
func (b *browser) signup(email string) {
	b.t.Helper()
	b.visit("/signup")
	b.fill("input[name=email]", email)
	b.fill("input[name=password]", pw)
	b.click("button[type=submit]")
	b.waitPath("/dashboard")
}

func (b *browser) evalString(js string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js))
	must(b.t, err)
	return s
}

func (b *browser) evalBool(js string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
	must(b.t, err)
	return v
}

func (b *browser) evalFloats(js string) []float64 {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](js))
	must(b.t, err)
	return v
}

// clickReload clicks something whose action ends in a page reload, and waits for the new page.
func (b *browser) clickReload(sel string) {
	b.t.Helper()
	b.run(chromedp.Evaluate[chromedp.Void](`window.polydevTestOldPage = true`))
	b.click(sel)
	b.until(`!window.polydevTestOldPage && document.readyState === "complete"`)
	b.check()
}
