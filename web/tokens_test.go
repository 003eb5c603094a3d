package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/auth"
)

func TestTokenLifecycle(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			cookie := e.signup("tok@example.com", pw)
			secret, id := e.token(cookie)
			if !strings.HasPrefix(secret, "pd_") {
				t.Fatalf("token %q lacks pd_ prefix", secret)
			}
			bearer := []string{"Authorization", "Bearer " + secret}
			e.want(e.do("GET", "/api/account/me", nil, bearer...), http.StatusOK)

			var list struct {
				Tokens []map[string]any
			}
			e.want(e.do("GET", "/api/account/tokens", nil, bearer...), http.StatusOK).json(t, &list)
			if len(list.Tokens) != 1 || list.Tokens[0]["id"] != id || list.Tokens[0]["hint"] != auth.TokenHint(secret) {
				t.Fatalf("list = %+v", list.Tokens)
			}
			raw := e.do("GET", "/api/account/tokens", nil, bearer...)
			if strings.Contains(string(raw.body), secret) || strings.Contains(string(raw.body), auth.HashSecret(secret)) {
				t.Fatal("token list shows the secret or its hash")
			}

			e.want(e.do("DELETE", "/api/account/tokens/"+id, nil, "Cookie", cookie), http.StatusNoContent)
			revoked := e.want(e.do("GET", "/api/account/me", nil, bearer...), http.StatusUnauthorized).errorBody(t)
			unknown := e.want(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer pd_"+strings.Repeat("A", 43)), http.StatusUnauthorized).errorBody(t)
			malformed := e.want(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer nonsense"), http.StatusUnauthorized).errorBody(t)
			if revoked != unknown || unknown != malformed {
				t.Fatalf("revoked/unknown/malformed tokens answer differently: %+v %+v %+v", revoked, unknown, malformed)
			}
			e.want(e.do("DELETE", "/api/account/tokens/"+id, nil, "Cookie", cookie), http.StatusNotFound)
		})
	}
}

func TestExpiredTokenSame401(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	cookie := e.signup("exp-tok@example.com", pw)
	var out struct{ Token string }
	e.want(e.do("POST", "/api/account/tokens", map[string]any{"name": "short", "expiresInDays": 1}, "Cookie", cookie), http.StatusCreated).json(t, &out)
	e.want(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer "+out.Token), http.StatusOK)
	e.clock.set(25 * time.Hour)
	got := e.want(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer "+out.Token), http.StatusUnauthorized).errorBody(t)
	if got.Message != errBadToken.Message {
		t.Fatalf("expired token message = %q", got.Message)
	}
	for _, bad := range []int{0, -1, 100000} {
		e.want(e.do("POST", "/api/account/tokens", map[string]any{"expiresInDays": bad}, "Cookie", cookie), http.StatusBadRequest).errorBody(t)
	}
}

// TestTokenIDOR: user A can neither see nor revoke user B's tokens, and gets 404 (not 403), exactly as
// for a token that does not exist.
func TestTokenIDOR(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			a := e.signup("a@example.com", pw)
			b := e.signup("b@example.com", pw)
			bSecret, bID := e.token(b)

			var list struct{ Tokens []any }
			e.want(e.do("GET", "/api/account/tokens", nil, "Cookie", a), http.StatusOK).json(t, &list)
			if len(list.Tokens) != 0 {
				t.Fatalf("A sees B's tokens: %v", list.Tokens)
			}
			theirs := e.want(e.do("DELETE", "/api/account/tokens/"+bID, nil, "Cookie", a), http.StatusNotFound).errorBody(t)
			missing := e.want(e.do("DELETE", "/api/account/tokens/00000000-0000-4000-8000-000000000000", nil, "Cookie", a), http.StatusNotFound).errorBody(t)
			if theirs != missing {
				t.Fatalf("B's token and a missing token answer differently: %+v vs %+v", theirs, missing)
			}
			e.want(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer "+bSecret), http.StatusOK)
		})
	}
}
