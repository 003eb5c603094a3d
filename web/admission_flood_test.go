package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
)

// gatewaySurfaces are every gateway route, with the header its clients send the pd_ token in.
var gatewaySurfaces = []struct {
	path, authHeader string
}{
	{"/v1/chat/completions", "Authorization"},
	{"/api/chat/completions", "Authorization"},
	{"/v1/messages", "X-Api-Key"},
	{"/v1/messages/count_tokens", "X-Api-Key"},
	{"/v1/responses", "Authorization"},
	{"/v1/embeddings", "Authorization"},
	{"/v1beta/models/gemini-2.5-flash:generateContent", "X-Goog-Api-Key"},
	{"/v1/models/gemini-2.5-flash:streamGenerateContent", "X-Goog-Api-Key"},
}

// credential is the header value that carries token on a surface.
func credential(authHeader, token string) string {
	if authHeader == "Authorization" {
		return "Bearer " + token
	}
	return token
}

// checkSurfaceError checks that an answer is an error in the surface's own shape and returns its
// message.
func checkSurfaceError(t testing.TB, path string, a *rawAnswer) string {
	t.Helper()
	var b struct {
		Type  string `json:"type"`
		Error struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &b); err != nil || b.Error.Message == "" {
		t.Fatalf("%s: %d is not an error body: %s", path, a.status, a.body)
	}
	switch {
	case strings.HasPrefix(path, "/v1/messages"):
		if b.Type != "error" || b.Error.Type == "" {
			t.Fatalf("%s: not Anthropic's error shape: %s", path, a.body)
		}
	case strings.Contains(path, "/models/"):
		if b.Error.Status == "" {
			t.Fatalf("%s: not Google's error shape: %s", path, a.body)
		}
	default:
		if b.Error.Type == "" {
			t.Fatalf("%s: not OpenAI's error shape: %s", path, a.body)
		}
	}
	return b.Error.Message
}

// TestAdmissionBeforeBody: on every gateway surface, what needs no body is decided before any of
// it is read. Each request here announces 30 MB and sends none of it: the answer comes anyway,
// in the surface's error shape, and the connection closes (the body is never waited for).
func TestAdmissionBeforeBody(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	e.srv.cfg.MaxGatewayBodyBytes = 8 << 20
	e.srv.cfg.GatewayBodyLimits = map[string]int64{LimitEmbeddings: 1 << 20}
	e.srv.inflight = newInflight(64, 4<<20, 1<<30)
	addr := strings.TrimPrefix(e.ts.URL, "http://")
	token, _ := e.token(e.signup("before@example.com", pw))
	disabled, _ := e.token(e.signup("disabled@example.com", pw))
	u := mustUser(t, e, "disabled@example.com")
	now := time.Now()
	u.DisabledAt = &now
	if err := e.store.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}

	headersOnly := func(path string, length int64, h ...string) *rawAnswer {
		t.Helper()
		a, err := rawPost(t, addr, path, length, nil, h...)
		if err != nil {
			t.Fatalf("%s: no answer without the body: %v", path, err)
		}
		return a
	}
	want := func(path string, a *rawAnswer, status int, msg string) {
		t.Helper()
		if a.status != status {
			t.Fatalf("%s: status %d, want %d: %s", path, a.status, status, a.body)
		}
		if got := checkSurfaceError(t, path, a); !strings.Contains(got, msg) {
			t.Fatalf("%s: message %q lacks %q", path, got, msg)
		}
		if !a.closed {
			t.Fatalf("%s: connection left open after a refusal before the body", path)
		}
	}
	for _, sf := range gatewaySurfaces {
		want(sf.path, headersOnly(sf.path, 30<<20), http.StatusUnauthorized, "")
		want(sf.path, headersOnly(sf.path, 30<<20, sf.authHeader, credential(sf.authHeader, disabled)), http.StatusUnauthorized, "disabled")
		// Over the surface's cap (8 MiB; 1 MiB for embeddings).
		want(sf.path, headersOnly(sf.path, 30<<20, sf.authHeader, credential(sf.authHeader, token)), http.StatusRequestEntityTooLarge, "larger than")
		// Under the cap, over what one account may hold at once (4 MiB): can never pass.
		if !strings.Contains(sf.path, "embeddings") {
			want(sf.path, headersOnly(sf.path, 6<<20, sf.authHeader, credential(sf.authHeader, token)), http.StatusRequestEntityTooLarge, "in flight")
		}
	}
	if n, b := e.srv.inflight.load(); n != 0 || b != 0 {
		t.Fatalf("refusals left %d requests, %d bytes in flight", n, b)
	}

	// A tier that allows no requests, and a Gemini model the tier does not allow (named in the
	// path): refused before the body.
	setFree := func(f func(l *polydev.TierLimits)) {
		t.Helper()
		l, err := e.store.TierLimitsFor(t.Context(), polydev.TierFree)
		if err != nil {
			t.Fatal(err)
		}
		f(l)
		if err := e.store.PutTierLimits(t.Context(), []*polydev.TierLimits{l}); err != nil {
			t.Fatal(err)
		}
	}
	zero := int64(0)
	setFree(func(l *polydev.TierLimits) { l.RequestsPerDay = &zero })
	for _, sf := range gatewaySurfaces {
		want(sf.path, headersOnly(sf.path, 1000, sf.authHeader, credential(sf.authHeader, token)), http.StatusForbidden, "allows no gateway requests")
	}
	setFree(func(l *polydev.TierLimits) { l.RequestsPerDay, l.AllowedModels = nil, []string{"openai/*"} })
	for _, sf := range gatewaySurfaces[6:] {
		want(sf.path, headersOnly(sf.path, 1000, sf.authHeader, credential(sf.authHeader, token)), http.StatusForbidden, "not available on the free tier")
	}
}

// TestAdmissionInFlight: an account's requests in flight and the bytes of their bodies are bounded
// before a body is read (429 with Retry-After in the surface's shape), and given back when the
// requests end; another account is not affected.
func TestAdmissionInFlight(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	e.srv.inflight = newInflight(2, 4<<20, 1<<30)
	up := discardUpstream(t)
	e.addPlatformKey("openai", up.URL+"/v1")
	addr := strings.TrimPrefix(e.ts.URL, "http://")
	token, _ := e.token(e.signup("held@example.com", pw))
	other, _ := e.token(e.signup("other@example.com", pw))

	// One request holds 3 MiB in flight, stopped after its first KiB.
	hold := &holdAt{after: 1 << 10, release: make(chan struct{})}
	body := newPromptBody(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"`, 3<<20, `"}]}`, hold)
	held := make(chan *rawAnswer, 1)
	go func() {
		a, err := rawPost(t, addr, "/v1/chat/completions", body.size(), body, "Authorization", "Bearer "+token)
		if err != nil {
			t.Error(err)
		}
		held <- a
	}()
	waitFor(t, "the held body to be admitted", func() bool { _, b := e.srv.inflight.load(); return b >= 3<<20 && hold.reached.Load() == 1 })

	for _, sf := range gatewaySurfaces {
		a, err := rawPost(t, addr, sf.path, 2<<20, nil, sf.authHeader, credential(sf.authHeader, token))
		if err != nil {
			t.Fatal(err)
		}
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "1" || !a.closed {
			t.Fatalf("%s: bytes in flight: %d, Retry-After %q, closed %v: %s", sf.path, a.status, a.header.Get("Retry-After"), a.closed, a.body)
		}
		checkSurfaceError(t, sf.path, a)
	}
	// Another account is served meanwhile.
	e.want(e.do("POST", "/v1/chat/completions", smallChatBody("openai/gpt-4o-mini"), "Authorization", "Bearer "+other), http.StatusOK)

	// A second request that fits in bytes takes the last request slot; a third is refused for the
	// requests in flight.
	hold2 := &holdAt{after: 10, release: make(chan struct{})}
	small := newPromptBody(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"`, 100, `"}]}`, hold2)
	held2 := make(chan *rawAnswer, 1)
	go func() {
		a, err := rawPost(t, addr, "/v1/messages", small.size(), small, "X-Api-Key", token)
		if err != nil {
			t.Error(err)
		}
		held2 <- a
	}()
	waitFor(t, "the second request to be admitted", func() bool { n, _ := e.srv.inflight.load(); return n == 2 && hold2.reached.Load() == 1 })
	a, err := rawPost(t, addr, "/v1/embeddings", 100, nil, "Authorization", "Bearer "+token)
	if err != nil {
		t.Fatal(err)
	}
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "1" || !strings.Contains(checkSurfaceError(t, "/v1/embeddings", a), "requests in flight") {
		t.Fatalf("requests in flight: %d %v %s", a.status, a.header, a.body)
	}

	close(hold.release)
	close(hold2.release)
	if a := <-held; a == nil || a.status != http.StatusOK {
		t.Fatalf("the held request: %+v", a)
	}
	<-held2
	waitFor(t, "everything to be given back", func() bool { n, b := e.srv.inflight.load(); return n == 0 && b == 0 })
	e.want(e.do("POST", "/v1/chat/completions", smallChatBody("openai/gpt-4o-mini"), "Authorization", "Bearer "+token), http.StatusOK)
}

// TestTierRefusalBeforeBody: once the tier's per-minute limit refused an account, its next requests
// in that minute are refused before their bodies are read, on every surface, with the limit's
// Retry-After; in the next minute they pass again.
func TestTierRefusalBeforeBody(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := discardUpstream(t)
	e.addPlatformKey("openai", up.URL+"/v1")
	addr := strings.TrimPrefix(e.ts.URL, "http://")
	token, _ := e.token(e.signup("minute@example.com", pw))
	l, err := e.store.TierLimitsFor(t.Context(), polydev.TierFree)
	if err != nil {
		t.Fatal(err)
	}
	one := int64(1)
	l.RequestsPerMinute = &one
	if err := e.store.PutTierLimits(t.Context(), []*polydev.TierLimits{l}); err != nil {
		t.Fatal(err)
	}
	// Early in a minute of the test clock, so the window does not turn during the test.
	now := time.Now()
	e.clock.set(now.Truncate(time.Minute).Add(time.Minute + time.Second).Sub(now))
	e.want(e.do("POST", "/v1/chat/completions", smallChatBody("openai/gpt-4o-mini"), "Authorization", "Bearer "+token), http.StatusOK)
	e.want(e.do("POST", "/v1/chat/completions", smallChatBody("openai/gpt-4o-mini"), "Authorization", "Bearer "+token), http.StatusTooManyRequests)
	for _, sf := range gatewaySurfaces {
		a, err := rawPost(t, addr, sf.path, 30<<20, nil, sf.authHeader, credential(sf.authHeader, token))
		if err != nil {
			t.Fatal(err)
		}
		ra := a.header.Get("Retry-After")
		if a.status != http.StatusTooManyRequests || ra == "" || ra == "0" || !a.closed {
			t.Fatalf("%s: %d Retry-After %q closed %v: %s", sf.path, a.status, ra, a.closed, a.body)
		}
		if msg := checkSurfaceError(t, sf.path, a); !strings.Contains(msg, "requests per minute") {
			t.Fatalf("%s: %s", sf.path, msg)
		}
	}
	e.clock.set(now.Truncate(time.Minute).Add(2*time.Minute + time.Second).Sub(now))
	e.want(e.do("POST", "/v1/chat/completions", smallChatBody("openai/gpt-4o-mini"), "Authorization", "Bearer "+token), http.StatusOK)
}

// TestSlowGatewayBody: a body dribbled slower than the gateway's body deadline is cut off with a
// 400 in the surface's shape and the connection closed, with a known length or chunked; what it
// held in flight is given back.
func TestSlowGatewayBody(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	e.srv.cfg.GatewayBodyTimeout = 300 * time.Millisecond
	addr := strings.TrimPrefix(e.ts.URL, "http://")
	token, _ := e.token(e.signup("dribble@example.com", pw))
	for _, sf := range []struct{ path, authHeader string }{gatewaySurfaces[0], gatewaySurfaces[1], gatewaySurfaces[2], gatewaySurfaces[6]} {
		for _, length := range []int64{-1, 0} {
			body := `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`
			if length == 0 {
				length = int64(len(body))
			}
			a, err := rawPost(t, addr, sf.path, length, &dribble{s: body, every: 100 * time.Millisecond}, sf.authHeader, credential(sf.authHeader, token))
			if err != nil {
				t.Fatalf("%s: no answer to a dribbled body: %v", sf.path, err)
			}
			if a.status != http.StatusBadRequest || !a.closed {
				t.Fatalf("%s (length %d): status %d, closed %v: %s", sf.path, length, a.status, a.closed, a.body)
			}
			if msg := checkSurfaceError(t, sf.path, a); !strings.Contains(msg, "not received within") {
				t.Fatalf("%s: %s", sf.path, msg)
			}
		}
	}
	waitFor(t, "the dribbled bodies' bytes to be given back", func() bool { n, b := e.srv.inflight.load(); return n == 0 && b == 0 })
}

// dribble is a body that sends one byte per interval.
type dribble struct {
	s     string
	every time.Duration
}

func (d *dribble) Read(p []byte) (int, error) {
	if d.s == "" {
		return 0, io.EOF
	}
	time.Sleep(d.every)
	p[0], d.s = d.s[0], d.s[1:]
	return 1, nil
}

// chatBody is a small chat completions request.
func smallChatBody(model string) map[string]any {
	return map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": "hello"}}}
}

// addPlatformKey adds a platform key of provider at baseURL (through the admin API).
func (e *env) addPlatformKey(provider, baseURL string) {
	e.t.Helper()
	email := "keys-" + provider + "@example.com"
	admin := e.signup(email, pw)
	e.makeAdmin(email)
	e.want(e.do("POST", "/api/admin/providers", map[string]any{
		"action": "add_key", "provider": provider, "apiKey": "sk-test-" + provider, "baseUrl": baseURL,
	}, "Cookie", admin), http.StatusCreated)
}

// waitFor polls cond until it holds; a condition that never holds fails the test after a long
// guard (not a timing assertion: the conditions are states the code must reach).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
