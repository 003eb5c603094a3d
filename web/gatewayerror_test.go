package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// failingStore is a store whose tier table read fails as a broken database does.
type failingStore struct {
	polydev.Store
	err error
}

func (f failingStore) TierLimitsFor(context.Context, polydev.Tier) (*polydev.TierLimits, error) {
	return nil, f.err
}

// logLine is one JSON log record of the test server.
type logLine struct {
	Level     string `json:"level"`
	Msg       string `json:"msg"`
	RequestID string `json:"request_id"`
	Err       string `json:"err"`
	Net       string `json:"net"`
	Kind      string `json:"kind"`
}

func (e *env) logLines() []logLine {
	e.t.Helper()
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			e.t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		out = append(out, l)
	}
	return out
}

// TestGatewayStoreFailureLogged: a database failure on a gateway surface is a 500 with a generic
// message in the surface's shape, and its cause is logged at error level with the request id.
func TestGatewayStoreFailureLogged(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	e.platformFakes()
	token, _ := e.apiUser("storefail@example.com", polydev.TierFree)
	cause := "database disk image is malformed (canary 5c1e)"
	e.srv.router.Store = failingStore{Store: e.store, err: errors.New(cause)}
	for i, path := range []string{"/v1/chat/completions", "/v1/messages", "/api/chat/completions"} {
		id := fmt.Sprintf("store-fail-%d", i)
		r := e.do("POST", path, `{"model":"openai/gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
			"Authorization", "Bearer "+token, "X-Request-Id", id)
		if r.status != 500 || strings.Contains(string(r.body), "canary") || !strings.Contains(string(r.body), "Internal error.") {
			t.Fatalf("%s: %d %s", path, r.status, r.body)
		}
		found := false
		for _, l := range e.logLines() {
			if l.RequestID == id && l.Level == "ERROR" && strings.Contains(l.Err, cause) {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s: no ERROR log line with request id %s and the cause; logs:\n%s", path, id, e.logs.String())
		}
	}
}

// TestUpstreamNetworkFailureLogged: an upstream that refuses connections is a 502 to the client and
// a warning saying "refused", without the upstream's URL.
func TestUpstreamNetworkFailureLogged(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := testkit.NewOpenAI(t)
	base := up.BaseURL()
	admin := e.signup("net-admin@example.com", pw)
	e.makeAdmin("net-admin@example.com")
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": up.Key, "baseUrl": base}, "Cookie", admin), 201)
	up.Close() // nothing listens there any more
	token, _ := e.apiUser("net@example.com", polydev.TierFree)
	r := e.do("POST", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+token, "X-Request-Id", "net-refused-1")
	if r.status != 502 || r.header.Get("X-Should-Retry") != "true" {
		t.Fatalf("%d x-should-retry=%q: %s", r.status, r.header.Get("X-Should-Retry"), r.body)
	}
	found := false
	for _, l := range e.logLines() {
		if l.RequestID == "net-refused-1" && l.Level == "WARN" && l.Kind == "network" && l.Net == "refused" {
			found = true
		}
	}
	if !found || strings.Contains(e.logs.String(), strings.TrimPrefix(base, "http://")) {
		t.Fatalf("want a WARN line with net=refused and no upstream address; logs:\n%s", e.logs.String())
	}
}

// TestGatewayErrorSignals: on both surfaces, each refusal has the surface's shape, its status,
// x-should-retry, and for Polydev's own 429s a Retry-After that is the time left in the limiter's
// window.
func TestGatewayErrorSignals(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	// The server's clock stands at 23:00:10 UTC: 50 s left in the minute, 59 min 50 s in the day.
	now := time.Now().UTC()
	at := time.Date(now.Year(), now.Month(), now.Day()+1, 23, 0, 10, 0, time.UTC)
	e.clock.set(at.Sub(now))
	fakes := e.platformFakes()
	oa := fakes[0]
	free, _ := e.apiUser("sig-free@example.com", polydev.TierFree)
	plus, _ := e.apiUser("sig-plus@example.com", polydev.TierPlus)
	entCookie := e.userWithTier("sig-ent@example.com", polydev.TierEnterprise)
	e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": oa.up.Key, "baseUrl": oa.up.BaseURL(), "monthlyBudget": 0.000001}, "Cookie", entCookie), 201)
	ent, _ := e.token(entCookie)

	type want struct {
		status      int
		openaiType  string
		anthType    string
		shouldRetry string
	}
	hi := `{"model":"openai/gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
	check := func(name, token, body string, w want) (retryAfter []int) {
		t.Helper()
		for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
			auth := []string{"Authorization", "Bearer " + token}
			if path == "/v1/messages" {
				auth = []string{"x-api-key", token}
			}
			r := e.do("POST", path, body, auth...)
			var shape struct {
				Type  string
				Error struct{ Type, Message string }
			}
			r.json(t, &shape)
			typ := w.openaiType
			if path == "/v1/messages" {
				typ = w.anthType
				if shape.Type != "error" {
					t.Errorf("%s %s: not Anthropic's error shape: %s", name, path, r.body)
				}
			}
			if r.status != w.status || shape.Error.Type != typ || shape.Error.Message == "" || r.header.Get("X-Should-Retry") != w.shouldRetry {
				t.Errorf("%s %s: %d %q x-should-retry=%q, want %d %q %q: %s", name, path, r.status, shape.Error.Type,
					r.header.Get("X-Should-Retry"), w.status, typ, w.shouldRetry, r.body)
			}
			ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
			retryAfter = append(retryAfter, ra)
		}
		return retryAfter
	}

	check("wrong pd_ token", "pd_"+strings.Repeat("A", 43), hi, want{401, "authentication_error", "authentication_error", "false"})
	check("malformed body", free, `{"model":`, want{400, "invalid_request_error", "invalid_request_error", "false"})
	check("model not on the tier", free, `{"model":"openai/gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, want{403, "permission_error", "permission_error", "false"})
	check("budget spent", ent, hi, want{402, "insufficient_quota", "billing_error", "false"})
	oa.up.SetScript(testkit.ErrorScript(401))
	check("upstream refused the key", free, hi, want{502, "server_error", "api_error", "false"})
	oa.up.SetScript(testkit.ErrorScript(500))
	check("upstream server error", free, hi, want{502, "server_error", "api_error", "true"})
	oa.up.SetScript(testkit.Script{Text: "ok"})

	one := int64(1)
	lims, err := e.store.ListTierLimits(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lims {
		switch l.Tier {
		case polydev.TierFree:
			l.RequestsPerMinute = &one
		case polydev.TierPlus:
			l.RequestsPerDay = &one
		}
	}
	if err := e.store.PutTierLimits(t.Context(), lims); err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{free, plus} {
		e.want(e.do("POST", "/v1/chat/completions", hi, "Authorization", "Bearer "+token), 200)
	}
	t0 := e.clock.now()
	minute := check("tier per-minute limit", free, hi, want{429, "rate_limit_error", "rate_limit_error", "true"})
	day := check("tier per-day limit", plus, hi, want{429, "rate_limit_error", "rate_limit_error", "false"})
	t1 := e.clock.now()
	// Retry-After is the time left in the window when the limiter refused, rounded up to whole seconds.
	within := func(name string, got []int, reset time.Time) {
		lo, hi := int(reset.Sub(t1).Seconds()), int((reset.Sub(t0)+time.Second-1)/time.Second)
		for _, g := range got {
			if g < lo || g > hi {
				t.Errorf("%s: Retry-After %d, want the %d-%d s left in the window", name, g, lo, hi)
			}
		}
	}
	within("per-minute", minute, polydev.NextMinute(t0))
	within("per-day", day, polydev.NextDay(t0))
}
