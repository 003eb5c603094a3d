package web

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/netguard"
)

// gatewayEnv is an env whose provider keys may point at the loopback fakes.
func gatewayEnv(t testing.TB, engine string) *env {
	t.Helper()
	// Some gateway tests send hundreds of requests at once from one account: above the default
	// bound on its requests in flight (tested in admission_flood_test.go).
	e := newEnv(t, engine, Config{LoginBurst: 1000, UserRequests: 1000})
	guard, err := netguard.ParseAllowList("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	e.srv.keys.Guard = guard
	// Gateway tests send more requests than the seeded tiers allow per minute; tests of those limits
	// set them again.
	rows, err := e.store.ListTierLimits(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rows {
		l.RequestsPerDay, l.RequestsPerMinute = nil, nil
	}
	if err := e.store.PutTierLimits(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	return e
}

// fakes are the three fake upstreams with a platform key each, and the provider/model to ask for.
type fake struct {
	provider string
	model    string
	up       *testkit.Upstream
}

func (e *env) platformFakes(opts ...testkit.Option) []fake {
	e.t.Helper()
	admin := e.signup("gw-admin@example.com", pw)
	e.makeAdmin("gw-admin@example.com")
	fs := []fake{
		{"openai", "openai/gpt-4o-mini", testkit.NewOpenAI(e.t, opts...)},
		{"anthropic", "anthropic/claude-haiku-4-5", testkit.NewAnthropic(e.t, opts...)},
		{"gemini", "gemini/gemini-2.5-flash", testkit.NewGemini(e.t, opts...)},
	}
	for _, f := range fs {
		e.want(e.do("POST", "/api/admin/providers", map[string]any{
			"action": "add_key", "provider": f.provider, "apiKey": f.up.Key, "baseUrl": f.up.BaseURL(),
		}, "Cookie", admin), http.StatusCreated)
	}
	return fs
}

// apiUser makes a user with an API token and returns the token.
func (e *env) apiUser(email string, tier polydev.Tier) (string, *polydev.User) {
	e.t.Helper()
	c := e.userWithTier(email, tier)
	secret, _ := e.token(c)
	return secret, mustUser(e.t, e, email)
}

// usageOf flushes the recorder and returns the user's usage records, newest first.
func (e *env) usageOf(u *polydev.User) []*polydev.UsageRecord {
	e.t.Helper()
	if err := e.recorder.Flush(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	recs, err := e.store.ListUsage(e.t.Context(), u.ID, time.Time{}, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

func checkUsage(t testing.TB, rec *polydev.UsageRecord, s testkit.Script, model, status string) {
	t.Helper()
	if rec.Model != model || rec.Status != status || rec.InputTokens != int64(s.Usage.PromptTokens) ||
		rec.OutputTokens != int64(s.Usage.CompletionTokens) || rec.CacheReadTokens != int64(s.Usage.CachedTokens) ||
		// Anthropic does not report thinking tokens apart from output tokens.
		rec.Provider != polydev.ProviderAnthropic && rec.ReasoningTokens != int64(s.Usage.ReasoningTokens) {
		t.Fatalf("usage record = %+v, want tokens of %+v for %s (%s)", rec, s.Usage, model, status)
	}
	if rec.Cost <= 0 || !rec.PlatformKey || rec.KeyID == "" {
		t.Fatalf("usage record cost/key = %+v", rec)
	}
}

// sameJSON reports whether two JSON texts hold the same value (providers differ in whitespace).
func sameJSON(t testing.TB, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("not JSON: %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("not JSON: %q: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}
