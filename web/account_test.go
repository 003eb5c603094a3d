package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

const pw = "canary-Password-7f3a9"

func TestAccountFlow(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			cookie := e.signup("Alice@Example.com", pw)

			r := e.want(e.do("POST", "/api/account/login", map[string]string{"email": "alice@example.com", "password": pw}), http.StatusOK)
			login := sessionCookie(t, r)
			if login == cookie {
				t.Fatal("login reused the signup session id")
			}
			var me struct{ User polydev.User }
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", login), http.StatusOK).json(t, &me)
			if me.User.Email != "alice@example.com" || me.User.Tier != polydev.TierFree || me.User.Role != polydev.RoleUser {
				t.Fatalf("me = %+v", me.User)
			}
			if strings.Contains(string(r.body), "argon2") {
				t.Fatal("password hash in response")
			}

			e.want(e.do("POST", "/api/account/logout", nil, "Cookie", login), http.StatusNoContent)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", login), http.StatusUnauthorized).errorBody(t)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), http.StatusOK) // other session lives on
		})
	}
}

func TestCookieFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{SessionMax: 48 * time.Hour})
	r := e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "c@example.com", "password": pw}), http.StatusCreated)
	cookies := (&http.Response{Header: r.header}).Cookies()
	if len(cookies) != 1 {
		t.Fatalf("want one cookie, got %v", cookies)
	}
	c := cookies[0]
	if c.Name != "__Host-polydev_session" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie flags wrong: %+v", c)
	}
	if c.MaxAge != int((48 * time.Hour).Seconds()) {
		t.Fatalf("MaxAge = %d", c.MaxAge)
	}
	if len(c.Value) < 43 {
		t.Fatalf("cookie value too short: %d chars", len(c.Value))
	}
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	e.signup("bob@example.com", pw)
	wrong := e.want(e.do("POST", "/api/account/login", map[string]string{"email": "bob@example.com", "password": "wrong-password"}), http.StatusUnauthorized).errorBody(t)
	unknown := e.want(e.do("POST", "/api/account/login", map[string]string{"email": "nobody@example.com", "password": "wrong-password"}), http.StatusUnauthorized).errorBody(t)
	if wrong != unknown {
		t.Fatalf("wrong password and unknown account answer differently: %+v vs %+v", wrong, unknown)
	}
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "bob@example.com", "password": pw}), http.StatusConflict).errorBody(t)
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "not-an-email", "password": pw}), http.StatusBadRequest).errorBody(t)
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "short@example.com", "password": "short"}), http.StatusBadRequest).errorBody(t)
}

func TestLoginRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{LoginBurst: 4, LoginRefillTime: time.Hour})
	e.signup("rl@example.com", pw) // spends one of the IP's 4 attempts
	for i := range 3 {
		r := e.do("POST", "/api/account/login", map[string]string{"email": "rl@example.com", "password": "wrong-password"})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d", i, r.status)
		}
	}
	r := e.want(e.do("POST", "/api/account/login", map[string]string{"email": "rl@example.com", "password": pw}), http.StatusTooManyRequests)
	if r.errorBody(t).Type != "rate_limit_error" || r.header.Get("Retry-After") == "" {
		t.Fatalf("429 without rate_limit_error type or Retry-After: %s %v", r.body, r.header)
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{SessionIdle: time.Hour, SessionMax: 3 * time.Hour})
	cookie := e.signup("exp@example.com", pw)
	for _, step := range []struct {
		at   time.Duration
		want int
	}{
		{30 * time.Minute, http.StatusOK},                    // within idle window; touches the session
		{80 * time.Minute, http.StatusOK},                    // 50 min after the touch
		{3*time.Hour + time.Minute, http.StatusUnauthorized}, // past absolute expiry
	} {
		e.clock.set(step.at)
		e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), step.want)
	}

	e.clock.set(0)
	cookie = e.signup("idle@example.com", pw)
	e.clock.set(61 * time.Minute)
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), http.StatusUnauthorized)
}

func TestCrossOriginCookiePostRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	cookie := e.signup("csrf@example.com", pw)
	evil := []string{"Cookie", cookie, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}
	r := e.want(e.do("POST", "/api/account/tokens", map[string]string{"name": "x"}, evil...), http.StatusForbidden)
	r.errorBody(t)
	toks, err := e.store.ListTokens(t.Context(), mustUser(t, e, "csrf@example.com").ID)
	if err != nil || len(toks) != 0 {
		t.Fatalf("cross-origin POST created a token: %v %v", toks, err)
	}
	// Login CSRF: a cross-site page must not log the browser into an attacker's account.
	e.want(e.do("POST", "/api/account/login", map[string]string{"email": "csrf@example.com", "password": pw}, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	// The same request from our own origin works, and so does a Bearer request with a foreign Origin.
	e.want(e.do("POST", "/api/account/tokens", map[string]string{"name": "x"}, "Cookie", cookie, "Sec-Fetch-Site", "same-origin"), http.StatusCreated)
	secret, _ := e.token(cookie)
	e.want(e.do("POST", "/api/account/tokens", map[string]string{"name": "y"}, "Authorization", "Bearer "+secret, "Sec-Fetch-Site", "cross-site"), http.StatusCreated)
	// Safe methods are not blocked.
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie, "Sec-Fetch-Site", "cross-site"), http.StatusOK)
}

func TestSignupDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{SignupDisabled: true})
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "x@example.com", "password": pw}), http.StatusForbidden).errorBody(t)
}

func mustUser(t testing.TB, e *env, email string) *polydev.User {
	t.Helper()
	u, err := e.store.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
