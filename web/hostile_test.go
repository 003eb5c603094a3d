package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev/auth"
)

var sqlPayloads = []string{
	"' OR '1'='1", "1; DROP TABLE users; --", `" OR ""="`, "' UNION SELECT password_hash FROM users --",
	"admin'--", "%27%20OR%201%3D1", "1' AND SLEEP(5)#", "$1", "?",
}

// TestSQLInjection sends injection payloads through every input channel: they must produce 400, 401 or
// 404 in the JSON error shape, never a 500 or a database error text, and leave the data intact.
func TestSQLInjection(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{LoginBurst: 1000})
			cookie := e.signup("victim@example.com", pw)
			_, tokID := e.token(cookie)

			check := func(r *resp, allowed ...int) {
				t.Helper()
				ok := false
				for _, s := range allowed {
					ok = ok || r.status == s
				}
				if !ok {
					t.Fatalf("status %d not in %v: %s", r.status, allowed, r.body)
				}
				msg := strings.ToLower(r.errorBody(t).Message)
				for _, leak := range []string{"sql", "syntax", "pq:", "sqlstate", "constraint", "database"} {
					if strings.Contains(msg, leak) {
						t.Fatalf("error message leaks %q: %s", leak, msg)
					}
				}
			}
			for _, p := range sqlPayloads {
				check(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer "+p), 401)
				check(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer pd_"+p), 401)
				check(e.do("GET", "/api/account/me", nil, "Cookie", SessionCookie+"="+strings.ReplaceAll(p, ";", "")), 401)
				check(e.do("POST", "/api/account/login", map[string]string{"email": p, "password": p}), 400, 401)
				check(e.do("POST", "/api/account/login", map[string]string{"email": "victim@example.com", "password": p}), 401)
				if r := e.do("POST", "/api/account/signup", map[string]string{"email": p + "@example.com", "password": p}); r.status != http.StatusCreated {
					check(r, 400, 409) // some payloads are valid addresses: then they are just stored, verbatim
				}
				check(e.do("DELETE", "/api/account/tokens/"+strings.ReplaceAll(p, " ", "%20"), nil, "Cookie", cookie), 404, 400)
				check(e.do("DELETE", "/api/account/tokens/"+tokID+"'%20OR%20'1'='1", nil, "Cookie", cookie), 404)
			}
			// Token names are stored verbatim and come back verbatim.
			r := e.want(e.do("POST", "/api/account/tokens", map[string]string{"name": sqlPayloads[1]}, "Cookie", cookie), http.StatusCreated)
			if !strings.Contains(string(r.body), "DROP TABLE") {
				t.Fatalf("name not stored verbatim: %s", r.body)
			}
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), http.StatusOK)
			if _, err := e.store.ListTokens(t.Context(), mustUser(t, e, "victim@example.com").ID); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBadBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{MaxBodyBytes: 4096})
	cookie := e.signup("body@example.com", pw)
	cases := []struct {
		name, body string
		status     int
	}{
		{"empty", "", 400},
		{"not json", "hello", 400},
		{"truncated", `{"name":"x"`, 400},
		{"array", `[1,2]`, 400},
		{"wrong type", `{"name":5}`, 400},
		{"unknown field", `{"name":"x","admin":true}`, 400},
		{"two objects", `{"name":"x"}{"name":"y"}`, 400},
		{"oversized", `{"name":"` + strings.Repeat("a", 5000) + `"}`, 413},
		{"oversized trailing", `{"name":"x"}` + strings.Repeat(" ", 5000), 413},
		{"null bytes", "{\"name\":\"a\x00b\"}", 400},
		{"control chars in name", `{"name":"a\u0007b"}`, 400},
	}
	for _, c := range cases {
		r := e.do("POST", "/api/account/tokens", c.body, "Cookie", cookie)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", c.name, r.status, c.status, r.body)
			continue
		}
		r.errorBody(t)
	}
	toks, _ := e.store.ListTokens(t.Context(), mustUser(t, e, "body@example.com").ID)
	if len(toks) != 0 {
		t.Fatalf("bad bodies created %d tokens", len(toks))
	}
	// Unknown routes and methods speak JSON too.
	e.want(e.do("GET", "/api/nope", nil), http.StatusNotFound).errorBody(t)
	e.want(e.do("PATCH", "/api/account/me", nil), http.StatusMethodNotAllowed).errorBody(t)
}

// TestNoSecretsInLogsOrResponses greps everything the server logged (at debug level) and answered for
// the password and the token used.
func TestNoSecretsInLogsOrResponses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	var bodies strings.Builder
	record := func(r *resp) *resp { bodies.Write(r.body); bodies.WriteString(r.header.Get("Set-Cookie")); return r }

	record(e.do("POST", "/api/account/signup", map[string]string{"email": "logs@example.com", "password": pw}))
	r := record(e.do("POST", "/api/account/login", map[string]string{"email": "logs@example.com", "password": pw}))
	cookie := sessionCookie(t, r)
	record(e.do("POST", "/api/account/login", map[string]string{"email": "logs@example.com", "password": pw + "x"}))
	secret, _ := e.token(cookie)
	record(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer "+secret))
	record(e.do("GET", "/api/account/me?token="+secret, nil, "Authorization", "Bearer "+secret+"x"))
	record(e.do("POST", "/api/account/tokens", `{"name":"`+secret+`"`, "Cookie", cookie))

	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"http"`) {
		t.Fatal("no access log captured")
	}
	cookieValue := strings.SplitN(cookie, "=", 2)[1]
	for _, canary := range []string{pw, secret, secret[3:], auth.HashSecret(secret), cookieValue, "argon2id"} {
		if strings.Contains(logs, canary) {
			t.Errorf("log contains secret %q", canary)
		}
	}
	for _, canary := range []string{pw, "argon2id", auth.HashSecret(secret)} {
		if strings.Contains(bodies.String(), canary) {
			t.Errorf("response contains secret %q", canary)
		}
	}
}
