package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/netguard"
	"github.com/polydev/polydev/providerkeys"
)

// TestPrivateUpstreamsAreTheOperators: the private allow list covers platform keys; a user's own
// keys reach private hosts only when the operator extends it to their tier or to them; refusals do
// not say what an internal name resolves to, nor the resolver's error; and no key, platform or not,
// may point at Polydev itself.
func TestPrivateUpstreamsAreTheOperators(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	allow, err := netguard.ParseAllowList("127.0.0.0/8,10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	self := &netguard.Self{}
	self.Set(e.ts.Listener.Addr())
	e.srv.keys.Guard = allow.WithResolver(fakeDNS{}).WithSelf(self)
	e.srv.keys.Private = nil // the default: nobody's own keys

	admin := e.signup("admin@example.com", pw)
	e.makeAdmin("admin@example.com")
	user := e.userWithTier("plus@example.com", polydev.TierPlus)
	local := "http://127.0.0.1:11434/v1"

	// Platform keys: the operator's allow list applies.
	e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai-compatible", "apiKey": "sk-local-platform-1", "baseUrl": local}, "Cookie", admin), http.StatusCreated)

	// A user's key: refused, for an address and for a name that resolves to a private address.
	for _, base := range []string{local, "https://internal.example.com/v1", "https://10.9.8.7/v1"} {
		r := e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai-compatible", "apiKey": "sk-user-private-1", "baseUrl": base}, "Cookie", user), http.StatusBadRequest)
		msg := r.errorBody(t).Message
		if strings.Contains(msg, "10.1.2.3") || strings.Contains(msg, netguard.EnvAllowList) {
			t.Fatalf("%s: refusal reveals the resolved address or the setting: %q", base, msg)
		}
	}
	// A name that does not resolve: no resolver details.
	r := e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai-compatible", "apiKey": "sk-user-private-1", "baseUrl": "https://nowhere.example.com/v1"}, "Cookie", user), http.StatusBadRequest)
	if msg := r.errorBody(t).Message; strings.Contains(msg, "no such host") || strings.Contains(msg, ":53") {
		t.Fatalf("resolution failure echoed: %q", msg)
	}
	// Public destinations stay open to users.
	e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai-compatible", "apiKey": "sk-user-public-01", "baseUrl": "https://api.example.com/v1"}, "Cookie", user), http.StatusCreated)

	// The operator extends the allow list to the plus tier: now the user's key is accepted.
	plus, err := providerkeys.ParsePrivateAccess("plus")
	if err != nil {
		t.Fatal(err)
	}
	e.srv.keys.Private = plus
	e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai-compatible", "apiKey": "sk-user-private-1", "baseUrl": local}, "Cookie", user), http.StatusCreated)

	// Polydev itself: refused for everyone, allow list or not.
	for _, who := range []struct{ path, cookie string }{{"/api/api-keys", user}, {"/api/admin/providers", admin}} {
		body := map[string]any{"provider": "openai-compatible", "apiKey": "sk-loop-itself-1", "baseUrl": e.ts.URL + "/v1"}
		if who.path == "/api/admin/providers" {
			body["action"] = "add_key"
		}
		msg := e.want(e.do("POST", who.path, body, "Cookie", who.cookie), http.StatusBadRequest).errorBody(t).Message
		if !strings.Contains(msg, "Polydev server itself") {
			t.Fatalf("%s pointing at Polydev: %q", who.path, msg)
		}
	}
}

func TestParsePrivateAccess(t *testing.T) {
	t.Parallel()
	a, err := providerkeys.ParsePrivateAccess(" pro, Ops@Example.com ,")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		u    polydev.User
		want bool
	}{
		{polydev.User{Tier: polydev.TierPro, Email: "x@example.com"}, true},
		{polydev.User{Tier: polydev.TierPlus, Email: "ops@example.com"}, true},
		{polydev.User{Tier: polydev.TierEnterprise, Email: "x@example.com"}, false},
	} {
		if got := a.Allows(&c.u); got != c.want {
			t.Errorf("Allows(%+v) = %v, want %v", c.u, got, c.want)
		}
	}
	for _, bad := range []string{"gold", "not an email@", "a@b@c"} {
		if _, err := providerkeys.ParsePrivateAccess(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	var none *providerkeys.PrivateAccess
	if none.Allows(&polydev.User{Tier: polydev.TierEnterprise}) {
		t.Fatal("nil access allows")
	}
}
