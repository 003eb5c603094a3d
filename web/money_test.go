package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// moneyEnv has an OpenAI and an Anthropic fake, each behind a platform key with a monthly budget,
// and a plus-tier user with a token.
type moneyEnv struct {
	*env
	admin, token string
	user         *polydev.User
	openai, anth *testkit.Upstream
}

func newMoneyEnv(t *testing.T, engine string, budgetDollars float64, opts ...testkit.Option) *moneyEnv {
	e := gatewayEnv(t, engine)
	m := &moneyEnv{env: e, openai: testkit.NewOpenAI(t, opts...), anth: testkit.NewAnthropic(t, opts...)}
	m.admin = e.signup("money-admin@example.com", pw)
	e.makeAdmin("money-admin@example.com")
	for prov, up := range map[string]*testkit.Upstream{"openai": m.openai, "anthropic": m.anth} {
		e.want(e.do("POST", "/api/admin/providers", map[string]any{"action": "add_key", "provider": prov, "apiKey": up.Key,
			"baseUrl": up.BaseURL(), "monthlyBudget": budgetDollars}, "Cookie", m.admin), http.StatusCreated)
	}
	m.token, m.user = e.apiUser("money@example.com", polydev.TierPlus)
	return m
}

func (m *moneyEnv) chat(model string, maxTokens int64) *resp {
	body := fmt.Sprintf(`{"model":%q,"max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}`, model, maxTokens)
	return m.do("POST", "/v1/chat/completions", body, "Authorization", "Bearer "+m.token)
}

func (m *moneyEnv) messages(model string, maxTokens int64) *resp {
	body := fmt.Sprintf(`{"model":%q,"max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}`, model, maxTokens)
	return m.do("POST", "/v1/messages", body, "x-api-key", m.token)
}

// gatewayError is the message of an error on a /v1 surface (OpenAI's shape has a param too).
func gatewayError(t *testing.T, r *resp) string {
	t.Helper()
	var b struct{ Error struct{ Message string } }
	r.json(t, &b)
	return b.Error.Message
}

func upstreamModel(t *testing.T, up *testkit.Upstream) string {
	t.Helper()
	var b struct{ Model string }
	if err := json.Unmarshal(up.LastRequest().Body, &b); err != nil {
		t.Fatal(err)
	}
	return b.Model
}

// TestPriceBypassNames: every model name the issue ran at cost 0 on a budgeted platform key is
// priced now (its family's price, the provider asked for the exact id), and a name the table does
// not know is refused there with a message that says how to price it.
func TestPriceBypassNames(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			m := newMoneyEnv(t, engine, 1)
			for _, c := range []struct {
				name, upstream, priced string
				anthropic              bool
			}{
				{"openai/gpt-4o-2024-08-06", "gpt-4o-2024-08-06", "openai/gpt-4o", false},
				{"openai/GPT-4o", "gpt-4o", "openai/gpt-4o", false},
				{"openai/gpt-4o ", "gpt-4o", "openai/gpt-4o", false},
				{"anthropic/claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001", "anthropic/claude-haiku-4-5", true},
				{"claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001", "anthropic/claude-haiku-4-5", true}, // Claude Code's --model haiku, bare
				{"claude-opus-5-5", "claude-opus-5-5", "anthropic/claude-opus-5-5", true},                      // Claude Code's default
				{"gpt-6.2-sol", "gpt-6.2-sol", "openai/gpt-6.2-sol", false},                                    // Codex's default
			} {
				var r *resp
				up := m.openai
				if c.anthropic {
					r, up = m.messages(c.name, 100), m.anth
				} else {
					r = m.chat(c.name, 100)
				}
				m.want(r, http.StatusOK)
				if got := upstreamModel(t, up); got != c.upstream {
					t.Errorf("%q reached the provider as %q, want %q", c.name, got, c.upstream)
				}
				rec := m.usageOf(m.user)[0]
				if rec.Model != c.priced || rec.Cost <= 0 || rec.Unpriced || !rec.PlatformKey {
					t.Errorf("%q recorded as %+v, want priced as %s with a cost", c.name, rec, c.priced)
				}
			}
			before := m.openai.RequestCount()
			for _, name := range []string{"openai/gpt-9", "openai/GPT-9-2030-01-01 "} {
				got := gatewayError(t, m.want(m.chat(name, 100), http.StatusForbidden))
				if !strings.Contains(got, "has no price") || !strings.Contains(got, "PUT /api/admin/pricing") ||
					!strings.Contains(got, "polydev pricing import") {
					t.Errorf("%q refused with %q", name, got)
				}
			}
			if m.openai.RequestCount() != before {
				t.Error("an unpriced model reached the provider on a platform key")
			}
		})
	}
}

// TestUnpricedOwnKey: a model without a price runs on a user's own key without a budget, recorded
// as unpriced and counted in both stats pages; a budgeted own key refuses it, and the call fails
// over from the budgeted key to the unbudgeted one.
func TestUnpricedOwnKey(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := testkit.NewOpenAI(t)
	cookie := e.userWithTier("byok@example.com", polydev.TierPlus)
	token, _ := e.token(cookie)
	user := mustUser(t, e, "byok@example.com")
	add := func(name string, prio int, budget any) {
		body := map[string]any{"provider": "openai", "keyName": name, "apiKey": up.Key, "baseUrl": up.BaseURL(), "priorityOrder": prio}
		if budget != nil {
			body["monthlyBudget"] = budget
		}
		e.want(e.do("POST", "/api/api-keys", body, "Cookie", cookie), http.StatusCreated)
	}
	add("budgeted", 0, 5)
	chat := func() *resp {
		return e.do("POST", "/v1/chat/completions", `{"model":"openai/my-finetune","messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer "+token)
	}
	got := gatewayError(t, e.want(chat(), http.StatusForbidden))
	if !strings.Contains(got, "a key with a monthly budget") {
		t.Fatalf("budgeted own key: %q", got)
	}
	add("open", 1, nil)
	e.want(chat(), http.StatusOK)
	if up.RequestCount() != 1 || upstreamModel(t, up) != "my-finetune" {
		t.Fatalf("upstream saw %d requests", up.RequestCount())
	}
	rec := e.usageOf(user)[0]
	if !rec.Unpriced || rec.Cost != 0 || rec.PlatformKey || rec.Model != "openai/my-finetune" {
		t.Fatalf("record = %+v", rec)
	}
	var stats struct {
		Totals struct {
			Unpriced int64 `json:"unpricedRequests"`
		} `json:"totals"`
	}
	e.want(e.do("GET", "/api/dashboard/stats", nil, "Cookie", cookie), http.StatusOK).json(t, &stats)
	if stats.Totals.Unpriced != 1 {
		t.Fatalf("dashboard unpriced = %d", stats.Totals.Unpriced)
	}
	admin := e.signup("byok-admin@example.com", pw)
	e.makeAdmin("byok-admin@example.com")
	var as struct {
		Stats struct {
			Unpriced int64 `json:"unpriced_requests"`
		} `json:"stats"`
	}
	e.want(e.do("GET", "/api/admin/stats", nil, "Cookie", admin), http.StatusOK).json(t, &as)
	if as.Stats.Unpriced != 1 {
		t.Fatalf("admin unpriced = %d", as.Stats.Unpriced)
	}
}

// TestMoneyOverflow: the overflows. An upstream reporting 10^15 tokens is billed at the
// clamped count (never a negative spend), and max_tokens=922337203685477 reserves the model's
// output limit: it neither overflows nor passes a budget that max_tokens=100 fails.
func TestMoneyOverflow(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			m := newMoneyEnv(t, engine, 1_000_000, testkit.WithScript(testkit.Script{Text: "ok",
				Usage: testkit.Usage{PromptTokens: 1e15, CompletionTokens: 1e15}}))
			m.want(m.chat("openai/gpt-4o-mini", 100), http.StatusOK)
			rec := m.usageOf(m.user)[0]
			// 1e9 tokens in at $0.15/M and out at $0.60/M: $750.
			if rec.InputTokens != 1e9 || rec.OutputTokens != 1e9 || rec.Cost != 750_000_000 {
				t.Fatalf("record = %+v", rec)
			}
			if !strings.Contains(m.logs.String(), "clamped") {
				t.Error("no warning logged for the clamped usage")
			}
			keys, err := m.store.ListProviderKeys(t.Context(), "")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				if k.Usage.MonthSpend < 0 || k.Usage.TotalSpend < 0 {
					t.Fatalf("negative spend: %+v", k.Usage)
				}
			}
		})
	}
	t.Run("max_tokens", func(t *testing.T) {
		t.Parallel()
		// A budget of 50 µ$: max_tokens=100 on gpt-4o-mini reserves about 60 µ$ and is refused; the
		// absurd max_tokens must be refused too (it used to overflow to a negative reservation).
		m := newMoneyEnv(t, "sqlite", 0.00005)
		for _, n := range []int64{100, 922337203685477, 1 << 62} {
			m.want(m.chat("openai/gpt-4o-mini", n), http.StatusPaymentRequired)
			m.want(m.messages("anthropic/claude-haiku-4-5", n), http.StatusPaymentRequired)
		}
		if m.openai.RequestCount()+m.anth.RequestCount() != 0 {
			t.Fatal("a refused request reached a provider")
		}
		// $0.02 covers gpt-4o-mini's whole output limit (16384 tokens at $0.60/M ≈ 9830 µ$): the
		// absurd max_tokens is clamped to it and passes; unclamped it would reserve ~$553M.
		m2 := newMoneyEnv(t, "sqlite", 0.02)
		m2.want(m2.chat("openai/gpt-4o-mini", 922337203685477), http.StatusOK)
	})
}
