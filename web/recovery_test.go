package web

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/mail"
)

const smtpPassword = "smtp-secret-password-1"

// newMailEnv is newEnv with mail on, through a loopback SMTP server that requires a login.
func newMailEnv(t *testing.T, engine string, cfg Config) (*env, *testkit.SMTPServer) {
	t.Helper()
	smtpd := testkit.NewSMTP(t)
	smtpd.User, smtpd.Pass = "polydev", smtpPassword
	sender, err := mail.Parse(smtpd.URL(), "Polydev <noreply@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	cfg.PublicURL = "https://polydev.example.com/"
	e := newEnv(t, engine, cfg, func(d *Deps) { d.Mail = sender })
	t.Cleanup(func() { checkNoSecretsLogged(t, e) })
	return e, smtpd
}

var (
	verifySecret = regexp.MustCompile(`pdv_[A-Za-z0-9_-]{43}`)
	resetSecret  = regexp.MustCompile(`pdr_[A-Za-z0-9_-]{43}`)
)

// secretIn returns the one secret of the mail's kind, and checks the link carries the same one.
func secretIn(t *testing.T, m *testkit.Mail, to string, re *regexp.Regexp, path string) string {
	t.Helper()
	if len(m.To) != 1 || m.To[0] != to {
		t.Fatalf("mail to %v, want %s", m.To, to)
	}
	found := re.FindAllString(m.Body, -1)
	if len(found) != 2 || found[0] != found[1] {
		t.Fatalf("want the secret twice (link and API), got %v in:\n%s", found, m.Body)
	}
	if link := "https://polydev.example.com/" + path + "#token=" + found[0]; !strings.Contains(m.Body, link) {
		t.Fatalf("no link %s in:\n%s", link, m.Body)
	}
	return found[0]
}

// checkNoSecretsLogged: no mailed secret, and not the SMTP password, ever reaches the log.
func checkNoSecretsLogged(t *testing.T, e *env) {
	logs := e.logs.String()
	if verifySecret.MatchString(logs) || resetSecret.MatchString(logs) || strings.Contains(logs, smtpPassword) {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

func (e *env) drainMail() {
	e.t.Helper()
	if err := e.srv.outbox.drain(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) login(email, password string) string {
	e.t.Helper()
	return sessionCookie(e.t, e.want(e.do("POST", "/api/account/login", map[string]string{"email": email, "password": password}), http.StatusOK))
}

const chatBody = `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

func TestEmailVerification(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e, smtpd := newMailEnv(t, engine, Config{})
			r := e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "Ann@Example.com", "password": pw}), http.StatusAccepted)
			if len(r.header.Values("Set-Cookie")) != 0 {
				t.Fatal("sign-up with mail on signed the account in")
			}
			m := smtpd.Next(t)
			if m.AuthAs != "polydev" || m.From != "noreply@example.com" || !strings.Contains(m.Subject, "Verify") {
				t.Fatalf("mail: auth %q from %q subject %q", m.AuthAs, m.From, m.Subject)
			}
			first := secretIn(t, m, "ann@example.com", verifySecret, "account/verify-email")

			// Unverified: signs in, sees and manages its account, but no gateway, chat or VMs.
			cookie := e.login("ann@example.com", pw)
			var me userResponse
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), http.StatusOK).json(t, &me)
			if me.User.Verified() {
				t.Fatal("a new account with mail on is verified before it verified")
			}
			secret, _ := e.token(cookie)
			for _, rt := range []struct{ method, path, body string }{
				{"POST", "/v1/chat/completions", chatBody},
				{"GET", "/v1/models", ""},
				{"POST", "/v1/messages", `{"model":"anthropic/claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`},
				{"GET", "/api/chat/sessions", ""},
				{"POST", "/api/vms", `{"type":"browser"}`},
				{"GET", "/api/api-keys", ""},
			} {
				got := e.do(rt.method, rt.path, rt.body, "Authorization", "Bearer "+secret)
				if got.status != http.StatusForbidden || !strings.Contains(string(got.body), "verify your email") {
					t.Fatalf("%s %s unverified: %d %s", rt.method, rt.path, got.status, got.body)
				}
			}
			e.want(e.do("GET", "/api/dashboard/stats", nil, "Cookie", cookie), http.StatusOK)

			// Resend: a new link replaces the first.
			e.want(e.do("POST", "/api/account/verify/resend", nil, "Cookie", cookie), http.StatusAccepted)
			second := secretIn(t, smtpd.Next(t), "ann@example.com", verifySecret, "account/verify-email")
			if second == first {
				t.Fatal("resend mailed the same secret")
			}
			e.want(e.do("POST", "/api/account/verify", map[string]string{"token": first}), http.StatusBadRequest).errorBody(t)
			for _, bad := range []string{"", "pdv_x", strings.Replace(second, "pdv_", "pdr_", 1), flipLast(second), "' OR 1=1 --"} {
				if msg := e.want(e.do("POST", "/api/account/verify", map[string]string{"token": bad}), http.StatusBadRequest).errorBody(t).Message; !strings.Contains(msg, "invalid, expired or already used") {
					t.Fatalf("bad token %q: %s", bad, msg)
				}
			}
			e.want(e.do("POST", "/api/account/verify", map[string]string{"token": second}), http.StatusNoContent)
			e.want(e.do("POST", "/api/account/verify", map[string]string{"token": second}), http.StatusBadRequest) // single use
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), http.StatusOK).json(t, &me)
			if !me.User.Verified() {
				t.Fatal("not verified after the link")
			}
			if got := e.do("POST", "/v1/chat/completions", chatBody, "Authorization", "Bearer "+secret); strings.Contains(string(got.body), "verify your email") {
				t.Fatalf("verified account still refused: %d %s", got.status, got.body)
			}
			e.want(e.do("POST", "/api/account/verify/resend", nil, "Cookie", cookie), http.StatusConflict).errorBody(t)
		})
	}
}

func TestVerificationExpiresAndResendIsLimited(t *testing.T) {
	t.Parallel()
	e, smtpd := newMailEnv(t, "sqlite", Config{})
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "bo@example.com", "password": pw}), http.StatusAccepted)
	secret := secretIn(t, smtpd.Next(t), "bo@example.com", verifySecret, "account/verify-email")
	e.clock.set(24*time.Hour + time.Second)
	e.want(e.do("POST", "/api/account/verify", map[string]string{"token": secret}), http.StatusBadRequest).errorBody(t)

	cookie := e.login("bo@example.com", pw)
	for range resendBurst {
		e.want(e.do("POST", "/api/account/verify/resend", nil, "Cookie", cookie), http.StatusAccepted)
		smtpd.Next(t)
	}
	r := e.want(e.do("POST", "/api/account/verify/resend", nil, "Cookie", cookie), http.StatusTooManyRequests)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	e.drainMail()
	if n := len(smtpd.Pending()); n != 0 {
		t.Fatalf("a throttled resend sent %d mails", n)
	}
}

func TestPasswordResetByMail(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e, smtpd := newMailEnv(t, engine, Config{})
			e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "cy@example.com", "password": pw}), http.StatusAccepted)
			smtpd.Next(t) // the verification mail, left unused
			one, two := e.login("cy@example.com", pw), e.login("cy@example.com", pw)
			other := e.signupVerified(smtpd, "di@example.com")

			e.want(e.do("POST", "/api/account/password/forgot", map[string]string{"email": " CY@example.com "}), http.StatusAccepted)
			m := smtpd.Next(t)
			if !strings.Contains(m.Subject, "Reset") {
				t.Fatalf("subject %q", m.Subject)
			}
			secret := secretIn(t, m, "cy@example.com", resetSecret, "account/reset-password")

			// Wrong, malformed, other-purpose secrets and a bad password change nothing and keep the link.
			e.want(e.do("POST", "/api/account/password/reset", map[string]string{"token": "pdr_" + strings.Repeat("A", 43), "password": "new-password-77"}), http.StatusBadRequest).errorBody(t)
			e.want(e.do("POST", "/api/account/password/reset", map[string]string{"token": strings.Replace(secret, "pdr_", "pdv_", 1), "password": "new-password-77"}), http.StatusBadRequest)
			e.want(e.do("POST", "/api/account/password/reset", map[string]string{"token": secret, "password": "short"}), http.StatusBadRequest).errorBody(t)
			e.want(e.do("POST", "/api/account/password/reset", map[string]any{"token": secret, "password": "new-password-77", "extra": 1}), http.StatusBadRequest)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", one), http.StatusOK)

			e.want(e.do("POST", "/api/account/password/reset", map[string]string{"token": secret, "password": "new-password-77"}), http.StatusNoContent)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", one), http.StatusUnauthorized)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", two), http.StatusUnauthorized)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", other), http.StatusOK) // another account is untouched
			e.want(e.do("POST", "/api/account/login", map[string]string{"email": "cy@example.com", "password": pw}), http.StatusUnauthorized)
			cookie := e.login("cy@example.com", "new-password-77")
			var me userResponse
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), http.StatusOK).json(t, &me)
			if !me.User.Verified() {
				t.Fatal("a reset by mail did not count as proof of the address")
			}
			// Single use.
			e.want(e.do("POST", "/api/account/password/reset", map[string]string{"token": secret, "password": "third-password-9"}), http.StatusBadRequest)

			// Expired.
			e.want(e.do("POST", "/api/account/password/forgot", map[string]string{"email": "cy@example.com"}), http.StatusAccepted)
			late := secretIn(t, smtpd.Next(t), "cy@example.com", resetSecret, "account/reset-password")
			e.clock.set(30*time.Minute + time.Second)
			e.want(e.do("POST", "/api/account/password/reset", map[string]string{"token": late, "password": "third-password-9"}), http.StatusBadRequest)
			e.login("cy@example.com", "new-password-77")

			// A password changed another way ends the links still out.
			e.want(e.do("POST", "/api/account/password/forgot", map[string]string{"email": "cy@example.com"}), http.StatusAccepted)
			stale := secretIn(t, smtpd.Next(t), "cy@example.com", resetSecret, "account/reset-password")
			e.want(e.do("POST", "/api/account/password", map[string]string{"currentPassword": "new-password-77", "newPassword": "fourth-password-4"}, "Cookie", cookie), http.StatusNoContent)
			e.want(e.do("POST", "/api/account/password/reset", map[string]string{"token": stale, "password": "fifth-password-5"}), http.StatusBadRequest)
		})
	}
}

// signupVerified signs up with mail on, follows the link and signs in.
func (e *env) signupVerified(smtpd *testkit.SMTPServer, email string) string {
	e.t.Helper()
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": email, "password": pw}), http.StatusAccepted)
	found := verifySecret.FindString(smtpd.Next(e.t).Body)
	e.want(e.do("POST", "/api/account/verify", map[string]string{"token": found}), http.StatusNoContent)
	return e.login(email, pw)
}

// TestNoEnumeration: with mail on, sign-up and forgot-password answer byte for byte the same for
// an address with an account and one without; only the mail differs, and it goes to the owner.
func TestNoEnumeration(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e, smtpd := newMailEnv(t, engine, Config{})
			e.signupVerified(smtpd, "owner@example.com")

			taken := e.do("POST", "/api/account/signup", map[string]string{"email": "OWNER@example.com", "password": "attacker-password"})
			fresh := e.do("POST", "/api/account/signup", map[string]string{"email": "newcomer@example.com", "password": "attacker-password"})
			same(t, "sign-up", taken, fresh)
			got := map[string]string{}
			for range 2 {
				m := smtpd.Next(t)
				got[m.To[0]] = m.Subject
			}
			if !strings.Contains(got["owner@example.com"], "Sign-up attempt") || !strings.Contains(got["newcomer@example.com"], "Verify") {
				t.Fatalf("mails: %v", got)
			}
			e.login("owner@example.com", pw) // the owner's password is unchanged
			e.want(e.do("POST", "/api/account/login", map[string]string{"email": "owner@example.com", "password": "attacker-password"}), http.StatusUnauthorized)

			known := e.do("POST", "/api/account/password/forgot", map[string]string{"email": "owner@example.com"})
			unknown := e.do("POST", "/api/account/password/forgot", map[string]string{"email": "nobody@example.com"})
			same(t, "forgot", known, unknown)
			if known.status != http.StatusAccepted {
				t.Fatalf("forgot = %d", known.status)
			}
			e.drainMail()
			sent := smtpd.Pending()
			if len(sent) != 1 || sent[0].To[0] != "owner@example.com" {
				t.Fatalf("forgot mailed %d messages", len(sent))
			}
		})
	}
}

// same fails unless two answers are identical in status, body and the headers a client sees.
func same(t *testing.T, what string, a, b *resp) {
	t.Helper()
	if a.status != b.status || string(a.body) != string(b.body) || len(a.header.Values("Set-Cookie")) != len(b.header.Values("Set-Cookie")) {
		t.Fatalf("%s answers differ: %d %s vs %d %s", what, a.status, a.body, b.status, b.body)
	}
}

// TestMailServerDown: an unreachable or refusing SMTP server is an ERROR in the log; sign-up and
// forgot answer as always, resend says the mail could not be sent.
func TestMailServerDown(t *testing.T) {
	t.Parallel()
	e, smtpd := newMailEnv(t, "sqlite", Config{})
	smtpd.SetFailing(true)
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "eve@example.com", "password": pw}), http.StatusAccepted)
	e.want(e.do("POST", "/api/account/password/forgot", map[string]string{"email": "eve@example.com"}), http.StatusAccepted)
	cookie := e.login("eve@example.com", pw)
	msg := e.want(e.do("POST", "/api/account/verify/resend", nil, "Cookie", cookie), http.StatusServiceUnavailable).errorBody(t).Message
	if !strings.Contains(msg, "could not be sent") {
		t.Fatalf("resend with SMTP down: %q", msg)
	}
	e.drainMail()
	logs := e.logs.String()
	for _, want := range []string{`"msg":"mail not sent","service":"outbox","job":"verify"`, `"job":"reset"`, "message refused: 451"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("log lacks %s:\n%s", want, logs)
		}
	}
	if !strings.Contains(logs, `"level":"ERROR","msg":"mail not sent"`) {
		t.Fatal("a failed mail is not logged at ERROR")
	}
	if n := len(smtpd.Pending()); n != 0 {
		t.Fatalf("%d mails accepted by a failing server", n)
	}
}

// TestWithoutMail: no SMTP, no change: sign-up signs in at once, nothing waits for verification,
// and the mail routes say that the server sends no mail.
func TestWithoutMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	cookie := e.signup("fay@example.com", pw)
	secret, _ := e.token(cookie)
	if got := e.do("POST", "/v1/chat/completions", chatBody, "Authorization", "Bearer "+secret); strings.Contains(string(got.body), "verify your email") {
		t.Fatalf("verification required without mail: %s", got.body)
	}
	for _, rt := range []struct{ path, body string }{
		{"/api/account/verify", `{"token":"x"}`},
		{"/api/account/password/forgot", `{"email":"fay@example.com"}`},
		{"/api/account/password/reset", `{"token":"x","password":"new-password-77"}`},
	} {
		if msg := e.want(e.do("POST", rt.path, rt.body), http.StatusServiceUnavailable).errorBody(t).Message; !strings.Contains(msg, "sends no email") {
			t.Fatalf("%s: %q", rt.path, msg)
		}
	}
	e.want(e.do("POST", "/api/account/verify/resend", nil, "Cookie", cookie), http.StatusServiceUnavailable)
	if err := e.srv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var me userResponse
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), http.StatusOK).json(t, &me)
	if !me.User.Verified() {
		t.Fatal("without mail an account counts as verified (nothing to verify with)")
	}
}

// flipLast returns s with its last character changed to another canonical one ("A" or "E": the
// last character's two unused bits stay zero), a well-formed secret one character off the real
// one. Always "A" would be the real secret one time in 16.
func flipLast(s string) string {
	if strings.HasSuffix(s, "A") {
		return s[:len(s)-1] + "E"
	}
	return s[:len(s)-1] + "A"
}
