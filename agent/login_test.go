package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/polydev/polydev/agent/selftest"
	"github.com/polydev/polydev/internal/testkit"
)

// The fake CLIs, run by the runner as this test binary (AGENT_TEST_CHILD=mode):
//   - selftest: the agent's self-test OAuth client (a PKCE localhost-callback sign-in) against
//     AGENT_TEST_ISSUER, writing $HOME/.fake/credentials.json;
//   - linger: selftest, then goes on running (as Gemini CLI does after signing in) until stopped;
//   - fail: exits 1; nofile: exits 0 without a credential file; hang: waits to be killed.
func loginHelper(mode string) bool {
	run := func() error {
		return selftest.Run(context.Background(), selftest.Config{
			Issuer: os.Getenv("AGENT_TEST_ISSUER"), ClientID: "polydev-test",
			Out: filepath.Join(os.Getenv("HOME"), ".fake/credentials.json"), Timeout: time.Minute,
		})
	}
	switch mode {
	case "selftest":
		if err := run(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		os.Exit(0)
	case "linger":
		fmt.Print("Do you \x1b[1mwant\x1b[0m to\r\n continue? [Y/n] ")
		if line, _ := bufio.NewReader(os.Stdin).ReadString('\n'); strings.TrimSpace(line) != "" {
			os.Exit(5) // the runner's answer is a bare Enter
		}
		if err := run(); err != nil {
			os.Exit(1)
		}
		time.Sleep(time.Hour)
		os.Exit(7)
	case "fail":
		os.Exit(1)
	case "nofile":
		os.Exit(0)
	case "hang":
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	return false
}

// user plays the person at the browser: it loads the authorize page, signs in with the form and
// follows the redirect to the CLI's loopback callback, as Chromium would.
type user struct {
	provider *testkit.OAuth
	password string
	mu       sync.Mutex
	opened   []string
	errs     chan error
}

func (u *user) open(_ context.Context, raw string) error {
	u.mu.Lock()
	u.opened = append(u.opened, raw)
	u.mu.Unlock()
	go func() { u.errs <- u.signIn(raw) }()
	return nil
}

func (u *user) signIn(raw string) error {
	au, err := url.Parse(raw)
	if err != nil {
		return err
	}
	c := u.provider.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(raw)
	if err != nil {
		return err
	}
	resp.Body.Close()
	form := au.Query()
	form.Set("username", "ada")
	form.Set("password", u.password)
	resp, err = c.PostForm(u.provider.URL+"/authorize", form)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("sign-in answered %s", resp.Status)
	}
	cb, err := http.Get(resp.Header.Get("Location")) // the loopback callback, no proxy, no TLS
	if err != nil {
		return err
	}
	cb.Body.Close()
	return nil
}

func (u *user) urls() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.opened)
}

// loginFixture is a runner whose providers are the fake CLIs, signing in at a fake provider.
type loginFixture struct {
	login    *Login
	home     string
	provider *testkit.OAuth
	user     *user
}

func newLoginFixture(t *testing.T, password string) *loginFixture {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := testkit.NewOAuth(t, testkit.OAuthOptions{ClientID: "polydev-test", Username: "ada", Password: "correct horse"})
	home := t.TempDir()
	ca, err := InstallCA(p.CA, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	u := &user{provider: p, password: password, errs: make(chan error, 4)}
	providers := map[string]Provider{}
	for _, mode := range []string{"selftest", "linger", "fail", "nofile", "hang"} {
		providers[mode] = Provider{Name: mode, Command: []string{exe}, CredentialFile: ".fake/credentials.json"}
	}
	// Each mode is told apart by its name in the command's environment: the runner passes Env to all.
	l, err := NewLogin(LoginConfig{
		Providers: providers, Home: home, Open: u.open, PollEvery: 20 * time.Millisecond,
		Env: append(ca.Env(), "AGENT_TEST_ISSUER="+p.URL), Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return &loginFixture{login: l, home: home, provider: p, user: u}
}

// start starts the fake CLI in mode.
func (f *loginFixture) start(t *testing.T, mode string) {
	t.Helper()
	p := f.login.cfg.Providers[mode]
	p.Command = []string{"env", "AGENT_TEST_CHILD=" + mode, p.Command[0]}
	if mode == "linger" {
		p.Prompts = []Prompt{{Expect: "Do you want to continue?", Input: "\r"}}
		p.StopOnCredential = true
	}
	f.login.cfg.Providers[mode] = p
	if err := f.login.Start(t.Context(), LoginRequest{Provider: mode}); err != nil {
		t.Fatal(err)
	}
}

func (f *loginFixture) wait(t *testing.T) LoginStatus {
	t.Helper()
	f.login.mu.Lock()
	done := f.login.done
	f.login.mu.Unlock()
	select {
	case <-done:
	case <-time.After(2 * time.Minute): // a hang guard, not a timing assertion
		t.Fatalf("login still %+v", f.login.Status())
	}
	return f.login.Status()
}

// TestLoginCompletes: the fake CLI's PKCE localhost-callback sign-in through the runner's pty and
// browser helper ends completed, and the credential is handed over once, then gone from the guest.
func TestLoginCompletes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"selftest", "linger"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			f := newLoginFixture(t, "correct horse")
			f.start(t, mode)
			if st := f.wait(t); st.State != LoginCompleted || st.Provider != mode || st.Error != "" {
				t.Fatalf("status %+v", st)
			}
			if err := <-f.user.errs; err != nil {
				t.Fatalf("sign-in: %v", err)
			}
			urls := f.user.urls()
			if len(urls) != 1 || !strings.HasPrefix(urls[0], f.provider.URL+"/authorize?") {
				t.Fatalf("browser opened %q", urls)
			}
			c, err := f.login.TakeCredential()
			if err != nil {
				t.Fatal(err)
			}
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.Unmarshal(c.Content, &tok); err != nil || c.File != ".fake/credentials.json" || c.Format != "json" {
				t.Fatalf("credential %+v: %v", c, err)
			}
			if issued := f.provider.Issued(); len(issued) != 1 || issued[0] != tok.AccessToken {
				t.Fatalf("handed over %q, provider issued %q", tok.AccessToken, issued)
			}
			if _, err := os.Stat(filepath.Join(f.home, c.File)); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("credential file still in the guest: %v", err)
			}
			_, err = f.login.TakeCredential()
			if e, ok := errors.AsType[*Error](err); !ok || e.Status != http.StatusGone {
				t.Fatalf("second take = %v, want 410", err)
			}
		})
	}
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	cases := []struct{ mode, password, want string }{
		{"fail", "correct horse", "the login command failed: exit status 1"},
		{"nofile", "correct horse", "the login command exited without writing .fake/credentials.json"},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			t.Parallel()
			f := newLoginFixture(t, c.password)
			f.start(t, c.mode)
			if st := f.wait(t); st.State != LoginFailed || st.Error != c.want {
				t.Fatalf("status %+v, want failed with %q", st, c.want)
			}
			_, err := f.login.TakeCredential()
			if e, ok := errors.AsType[*Error](err); !ok || e.Status != http.StatusConflict {
				t.Fatalf("take after failure = %v, want 409", err)
			}
		})
	}
}

func TestLoginCancel(t *testing.T) {
	t.Parallel()
	f := newLoginFixture(t, "correct horse")
	f.start(t, "hang")
	if st := f.login.Status(); st.State != LoginRunning {
		t.Fatalf("status %+v", st)
	}
	f.login.Cancel()
	if st := f.wait(t); st.State != LoginFailed || st.Error != "cancelled" {
		t.Fatalf("status %+v", st)
	}
	err := f.login.Start(t.Context(), LoginRequest{Provider: "selftest"})
	if e, ok := errors.AsType[*Error](err); !ok || e.Status != http.StatusConflict {
		t.Fatalf("second login = %v, want 409", err)
	}
}

// TestLoginOverHTTP drives the runner through the agent's handler and the host's client functions.
func TestLoginOverHTTP(t *testing.T) {
	t.Parallel()
	f := newLoginFixture(t, "correct horse")
	p := f.login.cfg.Providers["selftest"]
	p.Command = []string{"env", "AGENT_TEST_CHILD=selftest", p.Command[0]}
	f.login.cfg.Providers["selftest"] = p
	gate := &TokenGate{LocalAddrs: guestAddrs}
	srv := hostSide(t, NewHandler(fixedSource{}, Endpoints{Token: gate, Login: f.login}, nil))
	ctx, cl := t.Context(), srv.Client()
	if _, err := StartLogin(ctx, cl, srv.URL, testToken, LoginRequest{Provider: "selftest"}); err == nil {
		t.Fatal("login started before the token was set")
	}
	if err := SetToken(ctx, cl, srv.URL, testToken); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []LoginRequest{{}, {Provider: "selftest", TargetURL: "https://a.test/"}, {Provider: "nope"}, {TargetURL: "javascript:alert(1)"}} {
		_, err := StartLogin(ctx, cl, srv.URL, testToken, bad)
		if e, ok := errors.AsType[*AgentError](err); !ok || e.Status != http.StatusBadRequest {
			t.Fatalf("StartLogin(%+v) = %v, want 400", bad, err)
		}
	}
	_, err := TakeCredential(ctx, cl, srv.URL, testToken)
	if e, ok := errors.AsType[*AgentError](err); !ok || e.Code != "not_completed" {
		t.Fatalf("early take = %v", err)
	}
	if st, err := StartLogin(ctx, cl, srv.URL, testToken, LoginRequest{Provider: "selftest"}); err != nil || st.State != LoginRunning {
		t.Fatalf("StartLogin = %+v, %v", st, err)
	}
	f.wait(t)
	st, err := GetLogin(ctx, cl, srv.URL, testToken)
	if err != nil || st.State != LoginCompleted {
		t.Fatalf("GetLogin = %+v, %v", st, err)
	}
	c, err := TakeCredential(ctx, cl, srv.URL, testToken)
	if err != nil || !strings.Contains(string(c.Content), "fake-at-") {
		t.Fatalf("TakeCredential = %+v, %v", c, err)
	}
	_, err = TakeCredential(ctx, cl, srv.URL, testToken)
	if e, ok := errors.AsType[*AgentError](err); !ok || e.Status != http.StatusGone {
		t.Fatalf("second take = %v", err)
	}
	if err := CancelLogin(ctx, cl, srv.URL, testToken); err != nil {
		t.Fatalf("cancel after completion = %v", err)
	}
}

func TestTargetURLOpensThePage(t *testing.T) {
	t.Parallel()
	var opened []string
	l, err := NewLogin(LoginConfig{Open: func(_ context.Context, u string) error { opened = append(opened, u); return nil }, Self: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(t.Context(), LoginRequest{TargetURL: "https://github.com/login/oauth/authorize?client_id=x"}); err != nil {
		t.Fatal(err)
	}
	l.opening.Wait()
	if st := l.Status(); st.State != LoginRunning || st.TargetURL == "" || len(opened) != 1 {
		t.Fatalf("status %+v, opened %q", st, opened)
	}
	if _, err := l.TakeCredential(); err == nil {
		t.Fatal("a targetUrl session handed over a credential")
	}
}

// TestTargetURLThatDoesNotOpen: Start answers at once; a page the browser cannot open fails the
// login afterwards, with the reason in the status.
func TestTargetURLThatDoesNotOpen(t *testing.T) {
	t.Parallel()
	l, err := NewLogin(LoginConfig{Open: func(context.Context, string) error { return errors.New("no browser") }, Self: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(t.Context(), LoginRequest{TargetURL: "https://github.com/login"}); err != nil {
		t.Fatal(err)
	}
	l.opening.Wait()
	if st := l.Status(); st.State != LoginFailed || st.Error != "could not open the page in the browser" {
		t.Fatalf("status %+v", st)
	}
}

// TestOpenerRefusesWhatIsNotAWebPage: the helper only forwards http(s) URLs and says why it failed.
func TestOpenerRefusesWhatIsNotAWebPage(t *testing.T) {
	t.Parallel()
	var got []string
	op, err := startOpener(t.TempDir(), "/bin/true", func(_ context.Context, u string) error {
		got = append(got, u)
		if strings.Contains(u, "broken") {
			return errors.New("no browser")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer op.close()
	env := map[string]string{}
	for _, kv := range op.env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	getenv := func(k string) string { return env[k] }
	if code := RunOpener([]string{"--some-flag", "/etc/passwd", "file:///etc/passwd", "https://ok.test/a?b=c"}, getenv, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if code := RunOpener([]string{"https://broken.test/"}, getenv, io.Discard); code == 0 {
		t.Fatal("a failed open exited 0")
	}
	if code := RunOpener([]string{"https://ok.test/"}, func(string) string { return "" }, io.Discard); code == 0 {
		t.Fatal("no socket exited 0")
	}
	if !slices.Equal(got, []string{"https://ok.test/a?b=c", "https://broken.test/"}) {
		t.Fatalf("opened %q", got)
	}
	if !IsOpener("/x/xdg-open") || !IsOpener("polydev-open") || IsOpener("/usr/local/bin/polydev-agent") {
		t.Fatal("IsOpener")
	}
}
