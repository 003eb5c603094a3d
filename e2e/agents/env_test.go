package agents

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/polydev/polydev/internal/testkit"
)

// env is one Polydev with a platform key for each provider, each on its fake upstream, and a user
// whose pd_ token the agents use. Agents reach Polydev through tap.
type env struct {
	tools     string // scripts/npmtools.sh's directory
	base      string // Polydev itself
	tap       *tap   // in front of Polydev: what the clients sent
	egress    *egress
	openai    *testkit.Upstream
	anthropic *testkit.Upstream
	gemini    *testkit.Upstream
	token     string // the user's pd_ token
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{tools: toolsDir(t)}
	e.openai = testkit.NewOpenAI(t)
	e.anthropic = testkit.NewAnthropic(t)
	e.gemini = testkit.NewGemini(t)
	e.egress = newEgress(t)

	data := filepath.Join(t.TempDir(), "data")
	cli(t, data, "admin-password-1", "user", "create", "--email", "admin@example.com", "--admin")
	cli(t, data, "dev-password-001", "user", "create", "--email", "dev@example.com", "--tier", "pro")
	e.base, _ = startServe(t, data, "POLYDEV_ALLOW_PRIVATE_UPSTREAMS=127.0.0.0/8")
	e.tap = newTap(t, e.base)

	h, _ := api(t, e.base, 200, "POST", "/api/account/login", `{"email":"admin@example.com","password":"admin-password-1"}`)
	admin := sessionCookie(t, h)
	for _, up := range []*testkit.Upstream{e.openai, e.anthropic, e.gemini} {
		kb, _ := json.Marshal(map[string]any{"action": "add_key", "provider": string(up.Provider), "keyName": "platform",
			"apiKey": up.Key, "baseUrl": up.BaseURL()})
		api(t, e.base, 201, "POST", "/api/admin/providers", string(kb), "Cookie", admin)
	}
	api(t, e.base, 200, "PUT", "/api/admin/tier-limits", `{"tierLimits":[{"tier":"pro","requestsPerDay":null,"requestsPerMinute":null,"allowedModels":[],"byok":"available","ephemeral":"default_on","platformKeys":true,"maxVms":3}]}`, "Cookie", admin)

	h, _ = api(t, e.base, 200, "POST", "/api/account/login", `{"email":"dev@example.com","password":"dev-password-001"}`)
	user := sessionCookie(t, h)
	api(t, e.base, 200, "PUT", "/api/security/settings", `{"ephemeralMode":false}`, "Cookie", user)
	_, body := api(t, e.base, 201, "POST", "/api/account/tokens", `{"name":"agents"}`, "Cookie", user)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		t.Fatal(err)
	}
	e.token = tok.Token
	return e
}

// wrongToken is a well-formed pd_ token that no account has.
const wrongToken = "pd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
