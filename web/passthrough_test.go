package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// claudeCodeBody is shaped like what Claude Code sends: cache marks on the system prompt, tools
// and the last message, thinking, metadata, context management, a mid-conversation system
// message, top_k and a server tool; none of it is the gateway's business on a same-provider route.
const claudeCodeBody = `{"model":"anthropic/claude-haiku-4-5","max_tokens":32000,
 "system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude.","cache_control":{"type":"ephemeral"}},
           {"type":"text","text":"Environment: linux","cache_control":{"type":"ephemeral","ttl":"1h"}}],
 "messages":[{"role":"user","content":[{"type":"text","text":"read \"main.go\"\n","cache_control":{"type":"ephemeral"}}]},
             {"role":"assistant","content":[{"type":"thinking","thinking":"let me look","signature":"c2ln"},{"type":"text","text":"ok"}]},
             {"role":"system","content":"<system-reminder>todo list is empty</system-reminder>"},
             {"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="}},{"type":"text","text":"and this"}]}],
 "tools":[{"name":"Bash","description":"Runs a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}}},"cache_control":{"type":"ephemeral"}},
          {"type":"web_search_20250305","name":"web_search","max_uses":5}],
 "thinking":{"type":"enabled","budget_tokens":4000},"context_management":{"edits":[{"type":"clear_tool_uses_20250919"}]},
 "output_config":{"effort":"high"},"metadata":{"user_id":"user_0123_account__session_abc"},"top_k":40,"temperature":1}`

// TestAnthropicPassthrough: /v1/messages to an Anthropic model reaches the upstream as the client
// wrote it (only the model and the key replaced; anthropic-beta and anthropic-version forwarded),
// and the answer comes back byte for byte with its usage, cache reads and writes, recorded exactly.
func TestAnthropicPassthrough(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := e.platformFakes()[1].up
	token, u := e.apiUser("passthrough@example.com", polydev.TierFree)
	s := testkit.Script{Text: "Hello from upstream", Chunks: 4,
		Usage: testkit.Usage{PromptTokens: 20000, CompletionTokens: 77, CachedTokens: 15000, CacheWriteTokens: 4000}}
	up.SetScript(s)
	upstreamBody := strings.Replace(claudeCodeBody, `"anthropic/claude-haiku-4-5"`, `"claude-haiku-4-5"`, 1)
	beta := "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"

	for _, stream := range []bool{false, true} {
		body, want := claudeCodeBody, upstreamBody
		if stream {
			body = strings.Replace(body, `"max_tokens"`, `"stream":true,"max_tokens"`, 1)
			want = strings.Replace(want, `"max_tokens"`, `"stream":true,"max_tokens"`, 1)
		}
		r := e.want(e.do("POST", "/v1/messages", body, "x-api-key", token, "anthropic-beta", beta), http.StatusOK)
		got := up.LastRequest()
		if string(got.Body) != want {
			t.Fatalf("stream=%v: upstream got\n%s\nwant\n%s", stream, got.Body, want)
		}
		if n := bytes.Count(got.Body, []byte("cache_control")); n != strings.Count(body, "cache_control") || n != 4 {
			t.Fatalf("cache_control marks upstream: %d", n)
		}
		if got.Header.Get("Anthropic-Beta") != beta || got.Header.Get("Anthropic-Version") != "2023-06-01" || got.Key != up.Key {
			t.Fatalf("upstream headers: %v", got.Header)
		}
		for k, v := range got.Header {
			if strings.Contains(strings.Join(v, " "), "pd_") {
				t.Fatalf("the client's token went upstream in %s", k)
			}
		}
		// The answer is the upstream's, byte for byte.
		direct := directAnthropic(t, up, want, beta)
		if !bytes.Equal(r.body, direct) {
			t.Fatalf("stream=%v: client got\n%s\nupstream sent\n%s", stream, r.body, direct)
		}
		if r.header.Get("Request-Id") == "" || r.header.Get(OverheadHeader) == "" {
			t.Fatalf("headers: %v", r.header)
		}
		rec := e.usageOf(u)[0]
		if rec.InputTokens != 20000 || rec.OutputTokens != 77 || rec.CacheReadTokens != 15000 || rec.CacheWriteTokens != 4000 ||
			rec.Estimated || rec.Status != polydev.UsageOK || rec.Stream != stream || rec.Model != "anthropic/claude-haiku-4-5" || rec.Cost <= 0 {
			t.Fatalf("stream=%v: record %+v", stream, rec)
		}
	}

	// The client's own anthropic-version goes upstream.
	e.want(e.do("POST", "/v1/messages", claudeCodeBody, "x-api-key", token, "anthropic-version", "2023-01-01"), http.StatusOK)
	if v := up.LastRequest().Header.Values("Anthropic-Version"); len(v) != 1 || v[0] != "2023-01-01" {
		t.Fatalf("anthropic-version upstream: %v", v)
	}
}

// directAnthropic asks the fake itself, for the bytes it answers body with.
func directAnthropic(t *testing.T, up *testkit.Upstream, body, beta string) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", up.URL+"/v1/messages", strings.NewReader(body))
	req.Header.Set("x-api-key", up.Key)
	req.Header.Set("anthropic-version", "2023-06-01")
	req.Header.Set("anthropic-beta", beta)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b
}

// TestAnthropicPassthroughPolicy: the gateway's rules hold on the passthrough path: the model is
// checked before anything is sent, a repeated model member is refused, upstream errors keep
// Anthropic's shape, and a key that fails over is released for the next.
func TestAnthropicPassthroughPolicy(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := e.platformFakes()[1].up
	token, u := e.apiUser("passthrough-policy@example.com", polydev.TierFree)

	for body, want := range map[string]string{
		`{"model":"anthropic/claude-haiku-4-5","model":"anthropic/claude-opus-4-1","max_tokens":5}`: "model: given more than once",
		`{"max_tokens":5,"messages":[]}`:                        "model is required",
		`{"model":"anthropic/claude-haiku-4-5","stream":"yes"}`: "stream: must be a boolean",
		`["model"]`: "JSON object",
		`{"model":"anthropic/claude-haiku-4-5","max_tokens":1.5}`: "max_tokens",
	} {
		before := up.RequestCount()
		r := e.want(e.do("POST", "/v1/messages", body, "x-api-key", token), http.StatusBadRequest)
		if !bytes.Contains(r.body, []byte(`"type":"error"`)) || !bytes.Contains(r.body, []byte(want)) || up.RequestCount() != before {
			t.Fatalf("%s: %s", body, r.body)
		}
	}

	// An upstream refusal comes back in Anthropic's shape, with nothing billed.
	up.Enqueue(testkit.Script{Error: &testkit.ErrorReply{Status: 400, Message: "messages: at least one message is required"}})
	r := e.want(e.do("POST", "/v1/messages", `{"model":"anthropic/claude-haiku-4-5","max_tokens":5,"messages":[]}`, "x-api-key", token), http.StatusBadRequest)
	if !bytes.Contains(r.body, []byte(`"type":"error"`)) || !bytes.Contains(r.body, []byte("at least one message")) {
		t.Fatalf("upstream 400: %s", r.body)
	}
	if rec := e.usageOf(u)[0]; rec.Status != polydev.UsageError || rec.Cost != 0 {
		t.Fatalf("record of a refused call: %+v", rec)
	}
}

// TestCountTokens: count_tokens for an Anthropic model is Anthropic's own answer, through the
// gateway's admission, with nothing billed; other models get an estimate marked as such, after
// the same admission and without an upstream call.
func TestCountTokens(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	up := fakes[1].up
	token, u := e.apiUser("count@example.com", polydev.TierFree)
	body := `{"model":"anthropic/claude-haiku-4-5","system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hello"}],"thinking":{"type":"enabled","budget_tokens":2000}}`
	want := strings.Replace(body, "anthropic/claude-haiku-4-5", "claude-haiku-4-5", 1)
	r := e.want(e.do("POST", "/v1/messages/count_tokens", body, "x-api-key", token, "anthropic-beta", "token-counting-2024-11-01"), http.StatusOK)
	var out struct {
		InputTokens int `json:"input_tokens"`
	}
	r.json(t, &out)
	got := up.LastRequest()
	if got.Path != "/v1/messages/count_tokens" || string(got.Body) != want || out.InputTokens != testkit.CountTokens([]byte(want)) ||
		got.Header.Get("Anthropic-Beta") != "token-counting-2024-11-01" {
		t.Fatalf("upstream %s %s, answer %s", got.Path, got.Body, r.body)
	}
	if recs := e.usageOf(u); len(recs) != 0 {
		t.Fatalf("count_tokens was billed: %+v", recs[0])
	}
	// Unauthenticated, unknown and refused models never reach the upstream.
	before := up.RequestCount()
	e.want(e.do("POST", "/v1/messages/count_tokens", body, "x-api-key", "pd_wrong"), http.StatusUnauthorized)
	r = e.want(e.do("POST", "/v1/messages/count_tokens", `{"model":"nope","messages":[]}`, "x-api-key", token), http.StatusBadRequest)
	if !bytes.Contains(r.body, []byte(`"type":"error"`)) || up.RequestCount() != before {
		t.Fatalf("unknown model: %s", r.body)
	}

	for _, f := range []fake{fakes[0], fakes[2]} {
		before := f.up.RequestCount()
		b := strings.Replace(body, "anthropic/claude-haiku-4-5", f.model, 1)
		r := e.want(e.do("POST", "/v1/messages/count_tokens", b, "x-api-key", token), http.StatusOK)
		var est struct {
			InputTokens int `json:"input_tokens"`
		}
		r.json(t, &est)
		// "be brief" + "hello": 13 bytes, 4 tokens.
		if est.InputTokens != 4 || r.header.Get(TokenCountHeader) != "estimate" || f.up.RequestCount() != before {
			t.Fatalf("%s: %s %v", f.provider, r.body, r.header)
		}
		r = e.want(e.do("POST", "/v1/messages/count_tokens", strings.Replace(b, `"thinking"`, `"tools":[{"type":"web_search_20250305","name":"web_search"}],"thinking"`, 1), "x-api-key", token), http.StatusBadRequest)
		if !bytes.Contains(r.body, []byte("tools[0].type")) {
			t.Fatalf("%s server tool: %s", f.provider, r.body)
		}
	}
	if recs := e.usageOf(u); len(recs) != 0 {
		t.Fatalf("estimates were billed: %+v", recs[0])
	}
	// A model the tier does not allow is refused before anything is counted.
	rows, err := e.store.ListTierLimits(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rows {
		if l.Tier == polydev.TierFree {
			l.AllowedModels = []string{"anthropic/claude-haiku-4-5"}
		}
	}
	if err := e.store.PutTierLimits(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	e.want(e.do("POST", "/v1/messages/count_tokens", strings.Replace(body, "anthropic/claude-haiku-4-5", "openai/gpt-4o-mini", 1), "x-api-key", token), http.StatusForbidden)
}

// TestClaudeCodeCrossProvider: Claude Code's own request for a non-Anthropic model (recorded from
// its npm release) is translated: its mid-conversation system message joins the system prompt,
// thinking and cache marks are dropped, the answer is an Anthropic stream; a PDF reaches OpenAI
// as a file part and Gemini as inlineData; a server tool is refused by name, in Anthropic's shape.
func TestClaudeCodeCrossProvider(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, u := e.apiUser("cc-cross@example.com", polydev.TierFree)
	recorded := testkit.Payload("agents/claude-code/messages_model_openai.json")
	for _, f := range []fake{fakes[0], fakes[2]} {
		body := bytes.Replace(recorded, []byte(`"openai/gpt-4o"`), []byte(`"`+f.model+`"`), 1)
		r := e.want(e.do("POST", "/v1/messages?beta=true", string(body), "x-api-key", token, "anthropic-beta", "claude-code-20250219"), http.StatusOK)
		if !bytes.Contains(r.body, []byte("event: message_start")) || !bytes.Contains(r.body, []byte("event: message_stop")) {
			t.Fatalf("%s: answer %s", f.provider, r.body)
		}
		got := f.up.LastRequest()
		if bytes.Contains(got.Body, []byte("cache_control")) || bytes.Contains(got.Body, []byte(`"thinking"`)) ||
			!bytes.Contains(got.Body, []byte("Read")) {
			t.Fatalf("%s upstream body: %.400s", f.provider, got.Body)
		}
		if rec := e.usageOf(u)[0]; rec.Model != f.model || rec.Status != polydev.UsageOK {
			t.Fatalf("%s record %+v", f.provider, rec)
		}
	}
	// The mid-conversation system message went into OpenAI's system message.
	var oa struct {
		Messages []struct {
			Role    string `json:"role"`
			Content any    `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(fakes[0].up.Requests()[0].Body, &oa); err != nil || oa.Messages[0].Role != "system" ||
		!strings.Contains(oa.Messages[0].Content.(string), "system-reminder") {
		t.Fatalf("OpenAI messages: %+v %v", oa.Messages, err)
	}

	pdf := `{"model":"%s","max_tokens":100,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="}},{"type":"text","text":"summarise"}]}]}`
	for _, c := range []struct {
		f    fake
		want string
	}{{fakes[0], `"file_data":"data:application/pdf;base64,JVBERi0xLjQ="`}, {fakes[2], `"inlineData":{"mimeType":"application/pdf","data":"JVBERi0xLjQ="}`}} {
		e.want(e.do("POST", "/v1/messages", fmt.Sprintf(pdf, c.f.model), "x-api-key", token), http.StatusOK)
		if got := c.f.up.LastRequest().Body; !bytes.Contains(got, []byte(c.want)) {
			t.Fatalf("%s upstream body %s", c.f.provider, got)
		}
	}

	before := fakes[0].up.RequestCount()
	r := e.want(e.do("POST", "/v1/messages", `{"model":"openai/gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":3}]}`,
		"x-api-key", token), http.StatusBadRequest)
	var eb struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	r.json(t, &eb)
	if eb.Type != "error" || eb.Error.Type != "invalid_request_error" || !strings.Contains(eb.Error.Message, "tools[0].type") || fakes[0].up.RequestCount() != before {
		t.Fatalf("server tool: %s", r.body)
	}
}

// TestClaudeCodeOptionsCrossProvider: Claude Code's thinking and output_config.effort (recorded
// from its npm release), and a structured-output request, reach OpenAI and Gemini as their own
// reasoning_effort / thinkingConfig and response_format / responseJsonSchema; a model that cannot
// reason (gpt-4o-mini) gets no reasoning field rather than a 400.
func TestClaudeCodeOptionsCrossProvider(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, _ := e.apiUser("cc-options@example.com", polydev.TierPlus)
	recorded := testkit.Payload("agents/claude-code/messages_model_openai.json") // thinking adaptive, effort high
	for _, c := range []struct {
		f           fake
		model, want string
		absent      string
	}{
		{fakes[0], "openai/gpt-5", `"reasoning_effort":"high"`, ""},
		{fakes[0], "openai/gpt-4o-mini", "", "reasoning_effort"},
		{fakes[2], "gemini/gemini-2.5-flash", `"thinkingConfig":{"thinkingBudget":16384}`, ""},
	} {
		body := bytes.Replace(recorded, []byte(`"openai/gpt-4o"`), []byte(`"`+c.model+`"`), 1)
		e.want(e.do("POST", "/v1/messages?beta=true", string(body), "x-api-key", token), http.StatusOK)
		got := c.f.up.LastRequest().Body
		if c.want != "" && !bytes.Contains(got, []byte(c.want)) || c.absent != "" && bytes.Contains(got, []byte(c.absent)) {
			t.Fatalf("%s upstream body: %.600s", c.model, got)
		}
	}

	const schema = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`
	structured := `{"model":"%s","max_tokens":200,"messages":[{"role":"user","content":"where?"}],"output_config":{"format":{"type":"json_schema","schema":` + schema + `},"effort":"low","task_budget":{"type":"tokens","total":1000}}}`
	for _, c := range []struct {
		f           fake
		model, want string
	}{
		{fakes[0], "openai/gpt-5", `"response_format":{"type":"json_schema","json_schema":{"name":"response","schema":` + schema + `}}`},
		{fakes[2], "gemini/gemini-2.5-flash", `"responseJsonSchema":` + schema},
	} {
		e.want(e.do("POST", "/v1/messages", fmt.Sprintf(structured, c.model), "x-api-key", token), http.StatusOK)
		if got := c.f.up.LastRequest().Body; !bytes.Contains(got, []byte(c.want)) || bytes.Contains(got, []byte("task_budget")) {
			t.Fatalf("%s upstream body: %s", c.model, got)
		}
	}
	r := e.want(e.do("POST", "/v1/messages", `{"model":"openai/gpt-5","max_tokens":20,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"sometimes"}}`, "x-api-key", token), http.StatusBadRequest)
	if !strings.Contains(string(r.body), `"type":"invalid_request_error"`) || !strings.Contains(string(r.body), "thinking.type") {
		t.Fatalf("bad thinking: %s", r.body)
	}
}
