package web

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/pgtest"
)

// userWithTier signs up an account, sets its tier and returns its cookie.
func (e *env) userWithTier(email string, tier polydev.Tier) string {
	e.t.Helper()
	cookie := e.signup(email, pw)
	u := mustUser(e.t, e, email)
	u.Tier = tier
	if err := e.store.UpdateUser(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
	return cookie
}

type keyResp struct {
	Key keyJSON `json:"key"`
}

func TestBYOKTierRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	free := e.userWithTier("free@example.com", polydev.TierFree)
	got := e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": "sk-free-000000001"}, "Cookie", free), http.StatusForbidden).errorBody(t)
	if !strings.Contains(got.Message, "free tier") {
		t.Fatalf("403 message does not name the tier rule: %q", got.Message)
	}
	e.want(e.do("GET", "/api/api-keys", nil, "Cookie", free), http.StatusOK)
	for _, tier := range []polydev.Tier{polydev.TierPlus, polydev.TierPro, polydev.TierEnterprise} {
		c := e.userWithTier(string(tier)+"@example.com", tier)
		e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": "sk-" + string(tier) + "-0000000001"}, "Cookie", c), http.StatusCreated)
	}
}

func TestBYOKLifecycle(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			c := e.userWithTier("byok@example.com", polydev.TierPlus)
			const secret = "sk-proj-lifecycle-ABCD1234wxyz"
			var created keyResp
			e.want(e.do("POST", "/api/api-keys", map[string]any{
				"provider": "anthropic", "keyName": "work", "apiKey": secret, "monthlyBudget": 12.5,
				"dailyLimit": 100, "rateLimitRpm": 10, "priorityOrder": 2,
			}, "Cookie", c), http.StatusCreated).json(t, &created)
			k := created.Key
			if k.KeyPreview != "wxyz" || k.KeyName != "work" || k.MonthlyBudget == nil || *k.MonthlyBudget != 12_500_000 ||
				*k.DailyLimit != 100 || *k.RateLimitRPM != 10 || k.PriorityOrder != 2 || !k.Active || k.IsAdminKey {
				t.Fatalf("created = %+v", k)
			}
			list := e.want(e.do("GET", "/api/api-keys", nil, "Cookie", c), http.StatusOK)
			if strings.Contains(string(list.body), secret) || strings.Contains(string(list.body), "apiKey") {
				t.Fatalf("list shows the key: %s", list.body)
			}

			// PATCH without apiKey never touches the stored key; null clears a limit.
			before, _ := e.store.ProviderKeyFor(t.Context(), mustUser(t, e, "byok@example.com").ID, k.ID)
			var patched keyResp
			e.want(e.do("PATCH", "/api/api-keys/"+k.ID, `{"keyName":"renamed","monthlyBudget":null,"active":false}`, "Cookie", c), http.StatusOK).json(t, &patched)
			if patched.Key.KeyName != "renamed" || patched.Key.MonthlyBudget != nil || patched.Key.Active || *patched.Key.DailyLimit != 100 {
				t.Fatalf("patched = %+v", patched.Key)
			}
			after, _ := e.store.ProviderKeyFor(t.Context(), mustUser(t, e, "byok@example.com").ID, k.ID)
			if string(after.Secret) != string(before.Secret) {
				t.Fatal("PATCH without apiKey changed the stored key")
			}
			// A masked preview sent back by a form is refused and changes nothing.
			for _, masked := range []string{"wxyz", "sk-...wxyz", "****wxyz"} {
				e.want(e.do("PATCH", "/api/api-keys/"+k.ID, map[string]any{"apiKey": masked}, "Cookie", c), http.StatusBadRequest).errorBody(t)
			}
			after, _ = e.store.ProviderKeyFor(t.Context(), after.UserID, k.ID)
			if string(after.Secret) != string(before.Secret) {
				t.Fatal("a masked preview overwrote the key")
			}
			// A new key replaces it and decrypts through the internal API.
			e.want(e.do("PATCH", "/api/api-keys/"+k.ID, map[string]any{"apiKey": "sk-proj-rotated-5678"}, "Cookie", c), http.StatusOK)
			after, _ = e.store.ProviderKeyFor(t.Context(), after.UserID, k.ID)
			if got, err := e.srv.keys.Secret(t.Context(), after); err != nil || got != "sk-proj-rotated-5678" || after.Preview != "5678" {
				t.Fatalf("Secret = %q, %v (preview %q)", got, err, after.Preview)
			}
			e.want(e.do("PATCH", "/api/api-keys/"+k.ID, map[string]any{"provider": "openai"}, "Cookie", c), http.StatusBadRequest)
			e.want(e.do("DELETE", "/api/api-keys/"+k.ID, nil, "Cookie", c), http.StatusNoContent)
			e.want(e.do("DELETE", "/api/api-keys/"+k.ID, nil, "Cookie", c), http.StatusNotFound)
		})
	}
}

func TestBYOKValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	c := e.userWithTier("val@example.com", polydev.TierPro)
	for _, body := range []string{
		`{}`,
		`{"provider":"openai"}`,
		`{"provider":"azure","apiKey":"sk-00000000001"}`,
		`{"provider":"openai","apiKey":"short"}`,
		`{"provider":"openai","apiKey":"sk has spaces 123"}`,
		`{"provider":"openai","apiKey":"sk-00000000001","monthlyBudget":-1}`,
		`{"provider":"openai","apiKey":"sk-00000000001","dailyLimit":-5}`,
		`{"provider":"openai","apiKey":"sk-00000000001","dailyLimit":"ten"}`,
		`{"provider":"openai","apiKey":"sk-00000000001","priorityOrder":null}`,
		`{"provider":"openai","apiKey":"sk-00000000001","upstreamUrl":"http://evil"}`,
		`{"provider":"openai-compatible","apiKey":"sk-00000000001"}`,
		`{"provider":"openai","apiKey":"sk-00000000001","keyName":"` + strings.Repeat("n", 101) + `"}`,
	} {
		e.want(e.do("POST", "/api/api-keys", body, "Cookie", c), http.StatusBadRequest).errorBody(t)
	}
	keys, _ := e.store.ListProviderKeys(t.Context(), mustUser(t, e, "val@example.com").ID)
	if len(keys) != 0 {
		t.Fatalf("invalid requests stored %d keys", len(keys))
	}
}

// TestBYOKIDOR: user A can never read, change or delete B's keys, nor reach platform keys.
func TestBYOKIDOR(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			a := e.userWithTier("a@example.com", polydev.TierPro)
			b := e.userWithTier("b@example.com", polydev.TierPro)
			admin := e.userWithTier("admin@example.com", polydev.TierPro)
			e.makeAdmin("admin@example.com")
			var bk, pk keyResp
			e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": "sk-bbbbbbbbbbbb"}, "Cookie", b), http.StatusCreated).json(t, &bk)
			e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "openai", "apiKey": "sk-platform-000001"}, "Cookie", admin), http.StatusCreated).json(t, &pk)

			var list struct{ Keys []keyJSON }
			e.want(e.do("GET", "/api/api-keys", nil, "Cookie", a), http.StatusOK).json(t, &list)
			if len(list.Keys) != 0 {
				t.Fatalf("A sees %d keys", len(list.Keys))
			}
			for _, id := range []string{bk.Key.ID, pk.Key.ID} {
				e.want(e.do("PATCH", "/api/api-keys/"+id, map[string]any{"keyName": "pwned", "apiKey": "sk-attacker-0001"}, "Cookie", a), http.StatusNotFound)
				e.want(e.do("DELETE", "/api/api-keys/"+id, nil, "Cookie", a), http.StatusNotFound)
			}
			// Admins manage platform keys through the admin API only, not other users' keys.
			e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "delete_key", "keyId": bk.Key.ID}, "Cookie", admin), http.StatusNotFound)
			got, err := e.store.ProviderKeyFor(t.Context(), mustUser(t, e, "b@example.com").ID, bk.Key.ID)
			if err != nil || got.Name != bk.Key.KeyName {
				t.Fatalf("B's key changed: %+v %v", got, err)
			}
			if s, _ := e.srv.keys.Secret(t.Context(), got); s != "sk-bbbbbbbbbbbb" {
				t.Fatal("B's secret changed")
			}
			e.want(e.do("GET", "/api/admin/providers", nil, "Cookie", a), http.StatusForbidden)
			e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "get_next_available_key", "provider": "openai"}, "Cookie", a), http.StatusForbidden)
		})
	}
}

func TestAdminProviderActions(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			admin := e.signup("root@example.com", pw)
			e.makeAdmin("root@example.com")
			act := func(status int, body map[string]any) *resp {
				t.Helper()
				return e.want(e.do("POST", "/api/admin/providers", body, "Cookie", admin), status)
			}
			add := func(name string, prio int, extra map[string]any) keyJSON {
				body := map[string]any{"action": "add_key", "provider": "openai", "keyName": name, "apiKey": "sk-" + name + "-00000000", "priorityOrder": prio}
				for k, v := range extra {
					body[k] = v
				}
				var r keyResp
				act(http.StatusCreated, body).json(t, &r)
				return r.Key
			}
			k1 := add("first", 0, nil)
			k2 := add("second", 1, map[string]any{"monthlyBudget": 1})
			k3 := add("third", 2, nil)
			add("claude", 0, map[string]any{"provider": "anthropic"})
			next := func(provider string) string {
				var r keyResp
				act(http.StatusOK, map[string]any{"action": "get_next_available_key", "provider": provider}).json(t, &r)
				return r.Key.KeyName
			}
			if got := next("openai"); got != "first" {
				t.Fatalf("next = %s, want first", got)
			}

			// toggle_active: first becomes inactive and is skipped.
			var r keyResp
			act(http.StatusOK, map[string]any{"action": "toggle_active", "keyId": k1.ID}).json(t, &r)
			if r.Key.Active {
				t.Fatal("toggle_active left the key active")
			}
			if got := next("openai"); got != "second" {
				t.Fatalf("next after deactivating first = %s, want second", got)
			}
			// second goes over budget: skipped.
			owner := ""
			k, _ := e.store.ProviderKeyFor(t.Context(), owner, k2.ID)
			spendOver(t, e, k)
			if got := next("openai"); got != "third" {
				t.Fatalf("next with second over budget = %s, want third", got)
			}
			// reset_usage brings it back.
			act(http.StatusOK, map[string]any{"action": "reset_usage", "keyId": k2.ID})
			if got := next("openai"); got != "second" {
				t.Fatalf("next after reset_usage = %s, want second", got)
			}
			// reorder_keys: third first.
			act(http.StatusOK, map[string]any{"action": "reorder_keys", "keyIds": []string{k3.ID, k2.ID, k1.ID}})
			if got := next("openai"); got != "third" {
				t.Fatalf("next after reorder = %s, want third", got)
			}
			act(http.StatusNotFound, map[string]any{"action": "reorder_keys", "keyIds": []string{k1.ID, polydev.NewID()}})
			act(http.StatusBadRequest, map[string]any{"action": "reorder_keys", "keyIds": []string{k1.ID, k1.ID}})
			if got := next("openai"); got != "third" {
				t.Fatal("a failed reorder changed the order")
			}
			// update_key changes settings but not the key when apiKey is absent.
			act(http.StatusOK, map[string]any{"action": "update_key", "keyId": k3.ID, "keyName": "third-renamed", "dailyLimit": 0})
			if got := next("openai"); got != "second" {
				t.Fatalf("next with third at daily limit 0 = %s, want second", got)
			}
			k, _ = e.store.ProviderKeyFor(t.Context(), owner, k3.ID)
			if s, err := e.srv.keys.Secret(t.Context(), k); err != nil || s != "sk-third-00000000" {
				t.Fatalf("update_key touched the key: %q %v", s, err)
			}
			// delete_key, then nothing openai is available but the inactive one.
			act(http.StatusOK, map[string]any{"action": "delete_key", "keyId": k2.ID})
			act(http.StatusNotFound, map[string]any{"action": "delete_key", "keyId": k2.ID})
			act(http.StatusNotFound, map[string]any{"action": "get_next_available_key", "provider": "openai"})
			if got := next("anthropic"); got != "claude" {
				t.Fatalf("next anthropic = %s", got)
			}

			var listing struct {
				Keys      []keyJSON
				Providers []providerSummary
			}
			e.want(e.do("GET", "/api/admin/providers", nil, "Cookie", admin), http.StatusOK).json(t, &listing)
			if len(listing.Keys) != 3 || listing.Providers[0].Provider != "openai" || listing.Providers[0].TotalKeys != 2 {
				t.Fatalf("listing = %+v", listing)
			}
			for _, bad := range []map[string]any{
				{"action": "explode"}, {}, {"action": "add_key"}, {"action": "update_key", "keyId": "x' OR 1=1"},
				{"action": "get_next_available_key"}, {"action": "add_key", "provider": "openai", "apiKey": "sk-000000000", "bogus": 1},
			} {
				r := e.do("POST", "/api/admin/providers", bad, "Cookie", admin)
				if r.status != 400 && r.status != 404 {
					t.Fatalf("%v: status %d", bad, r.status)
				}
				r.errorBody(t)
			}
		})
	}
}

// spendOver records a month's spend at the key's budget, as the gateway will when it settles usage.
func spendOver(t *testing.T, e *env, k *polydev.ProviderKey) {
	t.Helper()
	k.Usage.Month = polydev.MonthOf(e.clock.now())
	k.Usage.MonthSpend = *k.MonthlyBudget
	if err := e.store.DeleteProviderKey(t.Context(), k.UserID, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateProviderKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
}

// TestSSRFBaseURL: private, loopback, link-local and metadata destinations are refused in every
// spelling, and nothing is stored.
func TestSSRFBaseURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	c := e.userWithTier("ssrf@example.com", polydev.TierPro)
	for _, u := range []string{
		"http://127.0.0.1:11434/v1", "https://10.0.0.1/v1", "http://169.254.169.254/latest/meta-data",
		"https://[::1]/v1", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/",
		"https://[::ffff:127.0.0.1]/", "https://internal.example.com/v1", "http://localhost:8080/",
		"https://metadata.google.internal/", "ftp://api.example.com/", "https://user:pass@api.example.com/v1",
		"http://api.example.com/v1", // plain http to a public host would send the key in clear
	} {
		r := e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai-compatible", "apiKey": "sk-ssrf-0000000", "baseUrl": u}, "Cookie", c), http.StatusBadRequest)
		if msg := r.errorBody(t).Message; strings.Contains(msg, "pass@") {
			t.Fatalf("error echoes credentials: %s", msg)
		}
	}
	e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai-compatible", "apiKey": "sk-ssrf-0000000", "baseUrl": "https://api.example.com/v1/"}, "Cookie", c), http.StatusCreated)
	keys, _ := e.store.ListProviderKeys(t.Context(), mustUser(t, e, "ssrf@example.com").ID)
	if len(keys) != 1 || keys[0].BaseURL != "https://api.example.com/v1" {
		t.Fatalf("stored keys = %+v", keys)
	}
}

// TestCanaryKeyNeverAtRest stores a canary key through the API and looks for it in the raw SQLite file
// and its WAL, a PostgreSQL dump, and every log line; it must be readable only through the vault.
func TestCanaryKeyNeverAtRest(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			canary := fmt.Sprintf("sk-canary-%s", strings.ReplaceAll(polydev.NewID(), "-", ""))
			var dir, pgURL string
			var e *env
			if engine == "sqlite" {
				dir = t.TempDir()
				e = newEnvAt(t, engine, filepath.Join(dir, "polydev.db"), Config{})
			} else {
				pgURL = pgtest.URL(t)
				e = newEnvAt(t, engine, pgURL, Config{})
			}
			c := e.userWithTier("canary@example.com", polydev.TierPro)
			admin := e.signup("root@example.com", pw)
			e.makeAdmin("root@example.com")
			var k keyResp
			e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": canary}, "Cookie", c), http.StatusCreated).json(t, &k)
			e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": "gemini", "apiKey": canary + "-platform"}, "Cookie", admin), http.StatusCreated)
			e.want(e.do("PATCH", "/api/api-keys/"+k.Key.ID, map[string]any{"apiKey": canary + "-v2"}, "Cookie", c), http.StatusOK)

			var raw []byte
			if engine == "sqlite" {
				for _, f := range []string{"polydev.db", "polydev.db-wal"} {
					b, err := os.ReadFile(filepath.Join(dir, f))
					if err != nil && !os.IsNotExist(err) {
						t.Fatal(err)
					}
					raw = append(raw, b...)
				}
				if len(raw) == 0 {
					t.Fatal("no database bytes read")
				}
			} else {
				raw = pgDump(t, pgURL)
				if !strings.Contains(string(raw), "provider_keys") {
					t.Fatal("dump lacks the provider_keys table")
				}
			}
			canaryCore := canary[len("sk-canary-"):]
			if strings.Contains(string(raw), canaryCore) {
				t.Fatal("canary key found in the raw database")
			}
			if strings.Contains(e.logs.String(), canaryCore) {
				t.Fatal("canary key found in the logs")
			}
			got, _ := e.store.ProviderKeyFor(t.Context(), mustUser(t, e, "canary@example.com").ID, k.Key.ID)
			if s, err := e.srv.keys.Secret(t.Context(), got); err != nil || s != canary+"-v2" {
				t.Fatalf("internal read back = %q, %v", s, err)
			}
		})
	}
}

// pgDump returns a plain-SQL dump of the database at url.
func pgDump(t testing.TB, url string) []byte {
	t.Helper()
	bin, err := exec.LookPath("pg_dump")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
		if len(matches) == 0 {
			t.Fatal("pg_dump not found (make test installs postgresql)")
		}
		bin = matches[len(matches)-1]
	}
	out, err := exec.CommandContext(t.Context(), bin, "--data-only", "--inserts", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	return out
}
