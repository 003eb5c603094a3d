package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/pricing"
)

// TestAnthropicWebSearchBilled: an Anthropic answer reporting usage.server_tool_use.web_search_requests
// (the web_search server tool, forwarded as written) is billed the searches at the table's
// serverTools price ($10 per 1,000) on top of the tokens, whole and streamed, and the request log
// shows the count.
func TestAnthropicWebSearchBilled(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := e.platformFakes()[1].up
	cookie := e.userWithTier("search@example.com", polydev.TierFree)
	token, _ := e.token(cookie)
	u := mustUser(t, e, "search@example.com")
	s := testkit.DefaultScript()
	s.Usage.WebSearches = 3
	up.SetScript(s)
	body := `{"model":"anthropic/claude-haiku-4-5","max_tokens":500,"messages":[{"role":"user","content":"news?"}],` +
		`"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}]}`
	price, err := (&pricing.Table{Store: e.store}).Lookup(t.Context(), "anthropic/claude-haiku-4-5")
	if err != nil {
		t.Fatal(err)
	}
	tokens := pricing.Usage{InputTokens: s.Usage.PromptTokens, OutputTokens: s.Usage.CompletionTokens, CacheReadTokens: s.Usage.CachedTokens}
	want := pricing.Cost(price, tokens) + 3*pricing.WebSearchPer1K(polydev.ProviderAnthropic)/1000
	for _, stream := range []bool{false, true} {
		b := body
		if stream {
			b = strings.Replace(b, `"max_tokens"`, `"stream":true,"max_tokens"`, 1)
		}
		e.want(e.do("POST", "/v1/messages", b, "x-api-key", token), http.StatusOK)
		rec := e.usageOf(u)[0]
		if rec.WebSearches != 3 || rec.Cost != want || rec.Stream != stream || rec.Estimated {
			t.Fatalf("stream=%v: record %+v, want 3 searches costing %d in all", stream, rec, want)
		}
	}
	var logs struct {
		Logs []struct {
			WebSearches int `json:"webSearches"`
		} `json:"logs"`
	}
	e.want(e.do("GET", "/api/dashboard/request-logs", nil, "Cookie", cookie), http.StatusOK).json(t, &logs)
	if len(logs.Logs) != 2 || logs.Logs[0].WebSearches != 3 {
		t.Fatalf("request logs: %+v", logs)
	}
}
