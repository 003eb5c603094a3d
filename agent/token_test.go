package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

const testToken = "0123456789abcdef0123456789abcdef"

type fixedSource struct{ snap Snapshot }

func (f fixedSource) Snapshot() Snapshot { return f.snap }

func guestAddrs() ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("10.0.2.15")}, nil
}

// request sends one request to h from peer and returns the status.
func request(h http.Handler, method, path, peer, auth, ctype, body string) int {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = peer
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

const fromHost = "10.0.2.2:40000"

func TestTokenIsSetOnceByTheHostOnly(t *testing.T) {
	t.Parallel()
	h := NewHandler(fixedSource{}, Endpoints{Token: &TokenGate{LocalAddrs: guestAddrs}}, nil)
	body := `{"token":"` + testToken + `"}`
	steps := []struct {
		name, peer, ctype, body string
		want                    int
	}{
		{"from guest loopback", "127.0.0.1:1", "application/json", body, http.StatusForbidden},
		{"from the guest's address", "10.0.2.15:1", "application/json", body, http.StatusForbidden},
		{"form post", fromHost, "text/plain", body, http.StatusUnsupportedMediaType},
		{"short", fromHost, "application/json", `{"token":"abc"}`, http.StatusBadRequest},
		{"too long", fromHost, "application/json", `{"token":"` + strings.Repeat("a", MaxTokenLen+1) + `"}`, http.StatusBadRequest},
		{"unknown field", fromHost, "application/json", `{"token":"` + testToken + `","x":1}`, http.StatusBadRequest},
		{"host", fromHost, "application/json", body, http.StatusNoContent},
		{"again, same token", fromHost, "application/json", body, http.StatusConflict},
		{"again, other token", fromHost, "application/json", `{"token":"` + strings.Repeat("b", 40) + `"}`, http.StatusConflict},
	}
	for _, s := range steps {
		if code := request(h, http.MethodPost, "/token", s.peer, "", s.ctype, s.body); code != s.want {
			t.Fatalf("%s: %d, want %d", s.name, code, s.want)
		}
	}
}

// TestGuardedEndpoints: every session endpoint needs the host's address and the token.
func TestGuardedEndpoints(t *testing.T) {
	t.Parallel()
	var filled []Credentials
	gate := &TokenGate{LocalAddrs: guestAddrs}
	h := NewHandler(fixedSource{}, Endpoints{Token: gate, Fill: func(_ context.Context, c Credentials) error {
		filled = append(filled, c)
		return nil
	}}, nil)
	good := `{"target_url":"https://example.test/login","username":"u","password":"p"}`
	bearer := "Bearer " + testToken
	// Before the host set a token nothing gets through, whatever is presented.
	for _, auth := range []string{"", "Bearer ", bearer} {
		if code := request(h, http.MethodPost, "/credentials", fromHost, auth, "application/json", good); code != http.StatusUnauthorized {
			t.Fatalf("before /token with %q: %d, want 401", auth, code)
		}
	}
	if err := gate.Set(testToken); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name, peer, auth, body string
		want                   int
	}{
		{"no header", fromHost, "", good, http.StatusUnauthorized},
		{"wrong token", fromHost, "Bearer " + strings.Repeat("x", len(testToken)), good, http.StatusUnauthorized},
		{"prefix of token", fromHost, "Bearer " + testToken[:10], good, http.StatusUnauthorized},
		{"not bearer", fromHost, "Basic " + testToken, good, http.StatusUnauthorized},
		{"right token from inside the guest", "127.0.0.1:5", bearer, good, http.StatusForbidden},
		{"bad body", fromHost, bearer, `{"nope":1}`, http.StatusBadRequest},
		{"relative target", fromHost, bearer, `{"target_url":"/login","username":"u"}`, http.StatusBadRequest},
		{"nothing to fill", fromHost, bearer, `{"target_url":"https://example.test/"}`, http.StatusBadRequest},
		{"right token", fromHost, bearer, good, http.StatusNoContent},
		{"and again (the token lives as long as the clone)", fromHost, bearer, good, http.StatusNoContent},
	}
	for _, s := range steps {
		if code := request(h, http.MethodPost, "/credentials", s.peer, s.auth, "application/json", s.body); code != s.want {
			t.Fatalf("%s: %d, want %d", s.name, code, s.want)
		}
	}
	if len(filled) != 2 || filled[0].Username != "u" || filled[0].Password != "p" {
		t.Fatalf("sink got %+v", filled)
	}
	for _, path := range []string{"/login", "/login/credential"} {
		if code := request(h, http.MethodGet, path, fromHost, "", "", ""); code != http.StatusUnauthorized {
			t.Fatalf("GET %s without token: %d", path, code)
		}
		if code := request(h, http.MethodGet, path, fromHost, bearer, "", ""); code != http.StatusNotFound {
			t.Fatalf("GET %s without a runner: %d, want 404", path, code)
		}
	}
}

func TestSinkErrorsAreRendered(t *testing.T) {
	t.Parallel()
	gate := &TokenGate{LocalAddrs: guestAddrs}
	if err := gate.Set(testToken); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(fixedSource{}, Endpoints{Token: gate, Fill: func(context.Context, Credentials) error { return ErrOriginMismatch }}, nil)
	if code := request(h, http.MethodPost, "/credentials", fromHost, "Bearer "+testToken, "", `{"target_url":"https://a.test/","password":"p"}`); code != http.StatusConflict {
		t.Fatalf("origin mismatch: %d, want 409", code)
	}
	h = NewHandler(fixedSource{}, Endpoints{Token: gate}, nil)
	if code := request(h, http.MethodPost, "/credentials", fromHost, "Bearer "+testToken, "", `{"target_url":"https://a.test/","password":"p"}`); code != http.StatusNotFound {
		t.Fatalf("no sink: %d, want 404", code)
	}
}

// TestTokenSetRace: of many concurrent first calls exactly one wins.
func TestTokenSetRace(t *testing.T) {
	t.Parallel()
	var g TokenGate
	var wg sync.WaitGroup
	wins := make(chan struct{}, 16)
	for i := range 16 {
		wg.Go(func() {
			if g.Set(strings.Repeat(string(rune('a'+i)), 40)) == nil {
				wins <- struct{}{}
			}
		})
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("%d winners", len(wins))
	}
}

// TestClientHelpers drives the host's client functions against the handler.
func TestClientHelpers(t *testing.T) {
	t.Parallel()
	gate := &TokenGate{LocalAddrs: guestAddrs}
	srv := hostSide(t, NewHandler(fixedSource{}, Endpoints{Token: gate, Fill: func(context.Context, Credentials) error { return nil }}, nil))
	ctx := t.Context()
	if err := SetToken(ctx, srv.Client(), srv.URL, testToken); err != nil {
		t.Fatal(err)
	}
	err := SetToken(ctx, srv.Client(), srv.URL, testToken)
	if ae, ok := errors.AsType[*AgentError](err); !ok || ae.Status != http.StatusConflict || ae.Code != "token_set" {
		t.Fatalf("second SetToken = %v", err)
	}
	if err := Autofill(ctx, srv.Client(), srv.URL, testToken, Credentials{TargetURL: "https://a.test/", Username: "u"}); err != nil {
		t.Fatal(err)
	}
	if err := Autofill(ctx, srv.Client(), srv.URL, "wrong-wrong-wrong-wrong-wrong-wrong", Credentials{TargetURL: "https://a.test/", Username: "u"}); err == nil {
		t.Fatal("wrong token accepted")
	}
}
