package web

import (
	"fmt"
	"net/http"
	"net/netip"
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
	e.signup("rl@example.com", pw) // sign-up has buckets of its own
	for i := range 4 {
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

// TestLoginThrottleCannotLockOut: an attacker hammering an account from one client is stopped, and
// the owner still logs in from another client meanwhile; behind a trusted proxy, clients are told
// apart by X-Forwarded-For, and an untrusted peer cannot choose its address with that header.
func TestLoginThrottleCannotLockOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{LoginBurst: 5, LoginRefillTime: time.Hour,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	e.signup("owner@example.com", pw)
	login := func(password, client string) int {
		return e.do("POST", "/api/account/login", map[string]string{"email": "owner@example.com", "password": password},
			"X-Forwarded-For", client).status
	}
	refused := 0
	for range 40 {
		switch login("guess-password-1", "203.0.113.7") {
		case http.StatusTooManyRequests:
			refused++
		case http.StatusUnauthorized:
		default:
			t.Fatal("a wrong password was not refused")
		}
	}
	if refused != 35 {
		t.Fatalf("attacker refused %d of 40 attempts, want 35 (burst 5)", refused)
	}
	if got := login(pw, "198.51.100.20"); got != http.StatusOK {
		t.Fatalf("owner from a new client while the attacker hammers: %d, want 200", got)
	}
	if got := login(pw, "203.0.113.7"); got != http.StatusTooManyRequests {
		t.Fatalf("the attacker's client with the right password: %d, want 429 (its bucket is empty)", got)
	}
	// A forged hop left of the proxy's own entry is not believed: the client is the address the
	// trusted proxy appended last.
	if got := login(pw, "198.51.100.99, 203.0.113.7"); got != http.StatusTooManyRequests {
		t.Fatalf("forged X-Forwarded-For prefix: %d, want 429", got)
	}

	// Spread over many clients, guesses stop at the account's own bucket (10 x burst).
	accountRefused := 0
	for i := range 60 {
		if login("guess-password-1", fmt.Sprintf("192.0.2.%d", i+1)) == http.StatusTooManyRequests {
			accountRefused++
		}
	}
	// 50 per account minus the 6 already spent (5 from the attacker's client, 1 by the owner).
	if accountRefused != 60-44 {
		t.Fatalf("distributed guesses refused %d of 60, want %d", accountRefused, 60-44)
	}
}

// TestClientAddressNeedsTrustedProxy: without POLYDEV_TRUSTED_PROXIES, X-Forwarded-For is ignored.
func TestClientAddressNeedsTrustedProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{LoginBurst: 3, LoginRefillTime: time.Hour})
	e.signup("solo@example.com", pw)
	for i := range 3 {
		e.want(e.do("POST", "/api/account/login", map[string]string{"email": "solo@example.com", "password": "guess-password-1"},
			"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i)), http.StatusUnauthorized)
	}
	e.want(e.do("POST", "/api/account/login", map[string]string{"email": "solo@example.com", "password": pw},
		"X-Forwarded-For", "198.51.100.1"), http.StatusTooManyRequests)
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
