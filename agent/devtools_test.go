package agent

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
	"github.com/polydev/polydev/internal/testkit"
)

func TestEscapeAll(t *testing.T) {
	t.Parallel()
	in := "https://a.test/x?y=1&z=a b+c%2F~"
	got := escapeAll(in)
	if strings.ContainsAny(got, "?&= +/:") {
		t.Fatalf("escapeAll left reserved bytes: %s", got)
	}
	if back, err := url.QueryUnescape(got); err != nil || back != in {
		t.Fatalf("round trip %q, %v", back, err)
	}
}

// startChromium runs the host's Chromium as the guest's would run (DevTools on loopback), headless,
// trusting the CA whose SPKI is given, resolving nothing but loopback.
func startChromium(t *testing.T, spki string) DevTools {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("SKIP: chromium is not installed (make test installs Debian's chromium; or apt-get install chromium)")
	}
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	// The profile is removed by this test's own cleanup, after the whole process group is gone:
	// t.TempDir's removal raced Chromium's helper processes still writing into it.
	profile, err := os.MkdirTemp("", "polydev-devtools-test-")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--headless=new", "--user-data-dir=" + profile, "--remote-debugging-address=127.0.0.1",
		"--remote-debugging-port=" + port, "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--ignore-certificate-errors-spki-list=" + spki, "about:blank"}
	if os.Geteuid() == 0 {
		args = append(args, "--no-sandbox")
	}
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // Chromium and its helpers (Setpgid)
		_ = cmd.Wait()
		for i := 0; i < 50 && os.RemoveAll(profile) != nil; i++ { // a helper may still be exiting
			time.Sleep(100 * time.Millisecond)
		}
	})
	for i := 0; TCPPort(addr)(t.Context()) != nil; i++ { // a hang guard, not a timing assertion
		if i == 600 {
			t.Fatal("chromium's DevTools never answered")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return DevTools{Addr: addr}
}

// waitForPage polls the browser's tab list until a page whose URL starts with prefix has title.
func waitForPage(t *testing.T, d DevTools, prefix, title string) {
	t.Helper()
	for i := 0; ; i++ { // a hang guard, not a timing assertion
		var tabs []struct{ Type, URL, Title string }
		if err := d.call(t.Context(), http.MethodGet, "/json/list", &tabs); err != nil {
			t.Fatal(err)
		}
		for _, tab := range tabs {
			if tab.Type == "page" && strings.HasPrefix(tab.URL, prefix) && tab.Title == title {
				return
			}
		}
		if i == 600 {
			t.Fatalf("no page %q titled %q in %+v", prefix, title, tabs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDevToolsOpenAndAutofill: in a real Chromium, Open shows the fake provider's sign-in page (over
// TLS from the test CA, trusted through the SPKI allow-list as the guest's extra CA is), the autofill
// refuses a page of another origin, then types the account into the form and submits it, and the
// provider redirects to the CLI's loopback callback with a code.
func TestDevToolsOpenAndAutofill(t *testing.T) {
	t.Parallel()
	p := testkit.NewOAuth(t, testkit.OAuthOptions{ClientID: "cli", Username: "ada@example.test", Password: "pa ss\"word<"})
	sum := sha256.Sum256(p.CA.RawSubjectPublicKeyInfo)
	d := startChromium(t, base64.StdEncoding.EncodeToString(sum[:]))

	codes := make(chan string, 1)
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		codes <- r.URL.Query().Get("code")
	}))
	t.Cleanup(callback.Close)
	verifier := sha256.Sum256([]byte("verifier"))
	auth := p.URL + "/authorize?" + url.Values{
		"response_type": {"code"}, "client_id": {"cli"}, "redirect_uri": {callback.URL + "/cb"}, "state": {"s t&a=te"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(verifier[:])}, "code_challenge_method": {"S256"},
	}.Encode()
	if err := d.Open(t.Context(), auth); err != nil {
		t.Fatal(err)
	}
	waitForPage(t, d, p.URL+"/authorize?", "Sign in - fake provider")

	err := d.Autofill(t.Context(), Credentials{TargetURL: "https://elsewhere.test/login", Username: "x", Password: "y"})
	if !errors.Is(err, ErrOriginMismatch) {
		t.Fatalf("autofill into another site's page = %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// What an earlier attempt left typed (its caller timed out and retried): the retry replaces it.
	leftOver(ctx, t, d, p.URL+"/authorize?")
	if err := d.Autofill(ctx, Credentials{TargetURL: p.URL + "/", Username: "ada@example.test", Password: "pa ss\"word<"}); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-codes:
		if code == "" {
			t.Fatal("callback without a code")
		}
	case <-ctx.Done():
		t.Fatalf("the sign-in never reached the callback; provider saw %q", p.Requests())
	}
}

// leftOver types "left over" into every input of the page whose URL starts with prefix, as a
// half-finished autofill would have.
func leftOver(ctx context.Context, t *testing.T, d DevTools, prefix string) {
	t.Helper()
	allocCtx, cancelAlloc := remote.NewAllocator(ctx, "http://"+d.Addr)
	defer cancelAlloc()
	listCtx, cancelList := chromedp.NewContext(allocCtx)
	defer cancelList()
	targets, err := chromedp.Targets(listCtx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		if tg.Type != "page" || !strings.HasPrefix(tg.URL, prefix) {
			continue
		}
		tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithTargetID(tg.TargetID), chromedp.WithDetachOnCancel())
		defer cancelTab()
		n, err := chromedp.Run(tabCtx, chromedp.Evaluate[int](`(() => { const f = document.querySelectorAll("input:not([type=hidden])"); for (const e of f) e.value = "left over"; return f.length; })()`))
		if err != nil || n < 2 {
			t.Fatalf("left-over typing: %d fields, %v", n, err)
		}
		return
	}
	t.Fatalf("no page %q", prefix)
}
