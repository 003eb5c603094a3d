package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// geminiCall posts to the Gemini surface with the token in x-goog-api-key (or nowhere, when token is
// empty: then the path carries it) and returns status, Content-Type and body.
func (e *env) geminiCall(path, token, body string) (int, string, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), "POST", e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Goog-Api-Key", token)
	}
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

// geminiChunk is a GenerateContentResponse as the tests read it.
type geminiChunk struct {
	Candidates []struct {
		Content struct {
			Parts []struct {
				Text         string
				FunctionCall *struct {
					ID, Name string
					Args     json.RawMessage
				}
			}
		}
		FinishReason string
	}
	UsageMetadata *struct {
		PromptTokenCount, CandidatesTokenCount, TotalTokenCount, CachedContentTokenCount, ThoughtsTokenCount int
	}
	Error *struct {
		Code            int
		Message, Status string
	}
}

// text is the chunks' text joined, and the last chunk's usage.
func geminiText(chunks []geminiChunk) (string, *geminiChunk) {
	var b strings.Builder
	for _, c := range chunks {
		for _, cand := range c.Candidates {
			for _, p := range cand.Content.Parts {
				b.WriteString(p.Text)
			}
		}
	}
	if len(chunks) == 0 {
		return "", nil
	}
	return b.String(), &chunks[len(chunks)-1]
}

func parseGeminiSSE(t *testing.T, body []byte) []geminiChunk {
	t.Helper()
	events, err := testkit.ParseSSE(body)
	if err != nil {
		t.Fatalf("not SSE: %v\n%s", err, body)
	}
	var out []geminiChunk
	for _, ev := range events {
		var c geminiChunk
		if err := json.Unmarshal([]byte(ev.Data), &c); err != nil {
			t.Fatalf("event %q: %v", ev.Data, err)
		}
		out = append(out, c)
	}
	return out
}

// checkGeminiUsage: the rendered usageMetadata says what the script's usage says.
func checkGeminiUsage(t *testing.T, c *geminiChunk, s testkit.Script, where string) {
	t.Helper()
	u := c.UsageMetadata
	if u == nil || u.PromptTokenCount != s.Usage.PromptTokens || u.CachedContentTokenCount != s.Usage.CachedTokens ||
		u.TotalTokenCount != s.Usage.PromptTokens+s.Usage.CompletionTokens || c.Candidates[0].FinishReason != "STOP" {
		t.Errorf("%s: final chunk %+v (usage %+v), want usage of %+v", where, c, u, s.Usage)
	}
}

// TestGeminiSurface: a Gemini client reaches every provider through /v1beta/models/{model}:...:
// whole answers, alt=sse streams and JSON-array streams, with the model in the path as the SDKs put
// it (slash as is, or escaped), and each call recorded with the script's exact usage.
func TestGeminiSurface(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, u := e.apiUser("gemini-surface@example.com", polydev.TierFree)
	s := testkit.Script{Text: "Bonjour from the fake upstream", Chunks: 3,
		Usage: testkit.Usage{PromptTokens: 900, CompletionTokens: 40, CachedTokens: 512}}
	body := `{"systemInstruction":{"parts":[{"text":"be brief"}]},"contents":[{"role":"user","parts":[{"text":"hi"}]}],` +
		`"generationConfig":{"maxOutputTokens":256,"temperature":0.5,"thinkingConfig":{"includeThoughts":true}}}`
	n := 0
	for _, f := range fakes {
		f.up.SetScript(s)
		models := []string{f.model, url.PathEscape(f.model)}
		if f.provider == "gemini" {
			models = []string{"gemini-2.5-flash", f.model} // a bare Gemini name, as Gemini CLI sends it
		}
		for _, m := range models {
			where := f.provider + " " + m
			status, ct, b := e.geminiCall("/v1beta/models/"+m+":generateContent", token, body)
			if status != 200 || !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("%s: %d %s", where, status, b)
			}
			var c geminiChunk
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			if text, last := geminiText([]geminiChunk{c}); text != s.Text {
				t.Errorf("%s: text %q", where, text)
			} else {
				checkGeminiUsage(t, last, s, where)
			}

			status, ct, b = e.geminiCall("/v1beta/models/"+m+":streamGenerateContent?alt=sse", token, body)
			if status != 200 || !strings.HasPrefix(ct, "text/event-stream") {
				t.Fatalf("%s sse: %d %s", where, status, b)
			}
			chunks := parseGeminiSSE(t, b)
			if text, last := geminiText(chunks); text != s.Text || len(chunks) < 2 {
				t.Errorf("%s sse: text %q in %d chunks", where, text, len(chunks))
			} else {
				checkGeminiUsage(t, last, s, where+" sse")
			}

			status, ct, b = e.geminiCall("/v1/models/"+m+":streamGenerateContent", token, body)
			if status != 200 || !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("%s array: %d %s", where, status, b)
			}
			var arr []geminiChunk
			if err := json.Unmarshal(b, &arr); err != nil {
				t.Fatalf("%s array: %v\n%s", where, err, b)
			}
			if text, last := geminiText(arr); text != s.Text || len(arr) < 2 {
				t.Errorf("%s array: text %q in %d chunks", where, text, len(arr))
			} else {
				checkGeminiUsage(t, last, s, where+" array")
			}
			n += 3
		}
		// The upstream got the translation: system prompt, the limit, the text.
		var got struct {
			System    json.RawMessage `json:"system"`
			MaxTokens int             `json:"max_tokens"`
		}
		last := f.up.LastRequest()
		_ = last.JSON(&got)
		if !strings.Contains(string(last.Body), "be brief") || (f.provider == "anthropic" && got.MaxTokens != 256) {
			t.Errorf("%s upstream body: %s", f.provider, last.Body)
		}
	}
	recs := e.usageOf(u)
	if len(recs) != n {
		t.Fatalf("%d usage records, want %d", len(recs), n)
	}
	for _, rec := range recs {
		if rec.Surface != "gemini" {
			t.Errorf("record surface %q", rec.Surface)
		}
		model := rec.Model
		checkUsage(t, rec, s, model, polydev.UsageOK)
	}
}

// TestGeminiFunctionRoundTrip: a function call from an OpenAI and an Anthropic model reaches the
// Gemini client whole, with an id; the client's functionResponse goes back as that call's result.
func TestGeminiFunctionRoundTrip(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, _ := e.apiUser("gemini-tools@example.com", polydev.TierFree)
	tools := `"tools":[{"functionDeclarations":[{"name":"get_weather","description":"weather","parameters":{"type":"OBJECT","properties":{"location":{"type":"STRING"}},"required":["location"]}}]}]`
	for _, f := range fakes[:2] {
		f.up.SetScript(testkit.Script{ToolCalls: []testkit.ToolCall{{Name: "get_weather", Arguments: `{"location":"Lyon"}`, Fragments: 3}},
			Usage: testkit.Usage{PromptTokens: 200, CompletionTokens: 15}})
		for _, action := range []string{":generateContent", ":streamGenerateContent?alt=sse"} {
			where := f.provider + action
			status, _, b := e.geminiCall("/v1beta/models/"+f.model+action, token,
				`{"contents":[{"role":"user","parts":[{"text":"weather in Lyon?"}]}],`+tools+`}`)
			if status != 200 {
				t.Fatalf("%s: %d %s", where, status, b)
			}
			var chunks []geminiChunk
			if strings.Contains(action, "sse") {
				chunks = parseGeminiSSE(t, b)
			} else {
				var c geminiChunk
				if err := json.Unmarshal(b, &c); err != nil {
					t.Fatal(err)
				}
				chunks = []geminiChunk{c}
			}
			var call *struct {
				ID, Name string
				Args     json.RawMessage
			}
			for _, c := range chunks {
				for _, p := range c.Candidates[0].Content.Parts {
					if p.FunctionCall != nil {
						call = p.FunctionCall
					}
				}
			}
			if call == nil || call.ID == "" || call.Name != "get_weather" || !sameJSON(t, string(call.Args), `{"location":"Lyon"}`) {
				t.Fatalf("%s: function call %+v in %s", where, call, b)
			}
			// The upstream saw the declaration as JSON Schema.
			if !strings.Contains(string(f.up.LastRequest().Body), `"type":"object"`) {
				t.Errorf("%s: upstream tools %s", where, f.up.LastRequest().Body)
			}

			// Second turn: the history with the call (and its id, as Gemini CLI keeps it) and the result.
			f.up.SetScript(testkit.Script{Text: "It is sunny.", Usage: testkit.Usage{PromptTokens: 250, CompletionTokens: 5}})
			second := `{"contents":[{"role":"user","parts":[{"text":"weather in Lyon?"}]},` +
				`{"role":"model","parts":[{"functionCall":{"id":"` + call.ID + `","name":"get_weather","args":{"location":"Lyon"}},"thoughtSignature":"c2ln"}]},` +
				`{"role":"user","parts":[{"functionResponse":{"id":"` + call.ID + `","name":"get_weather","response":{"output":"sunny, 24C"}}}]}],` + tools + `}`
			status, _, b = e.geminiCall("/v1beta/models/"+f.model+":generateContent", token, second)
			if status != 200 || !strings.Contains(string(b), "It is sunny.") {
				t.Fatalf("%s second turn: %d %s", where, status, b)
			}
			up := string(f.up.LastRequest().Body)
			if !strings.Contains(up, call.ID) || !strings.Contains(up, "sunny, 24C") {
				t.Errorf("%s: upstream did not get the result for %s: %s", where, call.ID, up)
			}
			f.up.SetScript(testkit.Script{ToolCalls: []testkit.ToolCall{{Name: "get_weather", Arguments: `{"location":"Lyon"}`, Fragments: 3}},
				Usage: testkit.Usage{PromptTokens: 200, CompletionTokens: 15}})
		}
	}
}

// TestGeminiCountTokens: countTokens answers an estimate for any model, bills nothing, and refuses
// what generateContent would refuse.
func TestGeminiCountTokens(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	e.platformFakes()
	token, u := e.apiUser("gemini-count@example.com", polydev.TierFree)
	for _, m := range []string{"openai/gpt-4o-mini", "anthropic%2Fclaude-haiku-4-5"} {
		status, _, b := e.geminiCall("/v1beta/models/"+m+":countTokens", token,
			`{"contents":[{"role":"user","parts":[{"text":"`+strings.Repeat("word ", 100)+`"}]}]}`)
		var out struct{ TotalTokens int }
		if status != 200 || json.Unmarshal(b, &out) != nil || out.TotalTokens != 125 {
			t.Errorf("%s: %d %s", m, status, b)
		}
	}
	status, _, b := e.geminiCall("/v1beta/models/openai/gpt-4o-mini:countTokens", token,
		`{"generateContentRequest":{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"googleSearch":{}}]}}`)
	if status != 400 || !strings.Contains(string(b), "generateContentRequest.tools[0].googleSearch") {
		t.Errorf("server tool: %d %s", status, b)
	}
	if recs := e.usageOf(u); len(recs) != 0 {
		t.Errorf("countTokens left %d usage records", len(recs))
	}
}

// TestGeminiErrors: every refusal on this surface is Google's error shape with a matching status.
func TestGeminiErrors(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, _ := e.apiUser("gemini-errors@example.com", polydev.TierFree)
	ok := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	fakes[0].up.SetScript(testkit.ErrorScript(429))
	cases := []struct {
		name, path, token, body string
		status                  int
		googleStatus, mention   string
	}{
		{"no token", "/v1beta/models/openai/gpt-4o-mini:generateContent", "", ok, 401, "UNAUTHENTICATED", "authentication required"},
		{"bad token", "/v1beta/models/openai/gpt-4o-mini:generateContent", "pd_nope", ok, 401, "UNAUTHENTICATED", "invalid API token"},
		{"bad json", "/v1beta/models/openai/gpt-4o-mini:generateContent", token, `{"contents":`, 400, "INVALID_ARGUMENT", "not valid JSON"},
		{"no contents", "/v1beta/models/openai/gpt-4o-mini:generateContent", token, `{}`, 400, "INVALID_ARGUMENT", "contents"},
		{"audio", "/v1beta/models/openai/gpt-4o-mini:generateContent", token,
			`{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"audio/wav","data":"UklG"}}]}]}`, 400, "INVALID_ARGUMENT", "contents[0].parts[0].inlineData.mimeType"},
		{"unknown action", "/v1beta/models/openai/gpt-4o-mini:embedContent", token, ok, 404, "NOT_FOUND", "embedContent"},
		{"no action", "/v1beta/models/openai/gpt-4o-mini", token, ok, 404, "NOT_FOUND", "no such method"},
		{"unknown provider", "/v1beta/models/nope/x:generateContent", token, ok, 400, "INVALID_ARGUMENT", "nope"},
		{"upstream 429", "/v1beta/models/openai/gpt-4o-mini:streamGenerateContent?alt=sse", token, ok, 429, "RESOURCE_EXHAUSTED", "openai"},
	}
	for _, c := range cases {
		status, ct, b := e.geminiCall(c.path, c.token, c.body)
		var body struct {
			Error *struct {
				Code            int
				Message, Status string
			}
		}
		if err := json.Unmarshal(b, &body); err != nil || body.Error == nil || status != c.status || body.Error.Code != c.status ||
			body.Error.Status != c.googleStatus || !strings.Contains(body.Error.Message, c.mention) || ct != "application/json" {
			t.Errorf("%s: %d %s %s", c.name, status, ct, b)
		}
	}
}

// TestGeminiKeyInQuery: ?key=pd_... authenticates, as some Gemini clients send it, and the token
// reaches no log line, whether the call succeeds, is refused or names no route.
func TestGeminiKeyInQuery(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	e.platformFakes()
	token, u := e.apiUser("gemini-query@example.com", polydev.TierFree)
	ok := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	status, _, b := e.geminiCall("/v1beta/models/openai/gpt-4o-mini:streamGenerateContent?alt=sse&key="+token, "", ok)
	if status != 200 || len(parseGeminiSSE(t, b)) < 2 {
		t.Fatalf("key in query: %d %s", status, b)
	}
	if recs := e.usageOf(u); len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	bad := token[:len(token)-4] + "AAAA"
	for _, path := range []string{
		"/v1beta/models/openai/gpt-4o-mini:generateContent?key=" + bad,
		"/v1beta/models/openai/gpt-4o-mini:generateContent?key=" + token + "&alt=x",
		"/v1beta/models/x:nothing?key=" + token,
		"/v1beta/nothing?key=" + token,
	} {
		if status, _, _ := e.geminiCall(path, "", `{}`); status == 200 {
			t.Errorf("%s: 200", path)
		}
	}
	if err := e.recorder.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs := e.logs.String()
	for _, secret := range []string{token, bad, token[3:20]} {
		if strings.Contains(logs, secret) {
			t.Fatalf("a token reached the log:\n%s", logs)
		}
	}
	if !strings.Contains(logs, "/v1beta/models/") {
		t.Fatalf("the calls were not logged at all:\n%s", logs)
	}
}

// TestGeminiPassthrough: for a Gemini model the client's body reaches Gemini byte for byte (fields
// the translation would refuse included), the model in the URL rewritten to the upstream id and
// the key replaced; the answer comes back as Gemini sent it, its usage recorded exactly.
func TestGeminiPassthrough(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	up := e.platformFakes()[2].up
	token, u := e.apiUser("gemini-raw@example.com", polydev.TierFree)
	s := testkit.Script{Text: "Straight from Gemini", Chunks: 2, Usage: testkit.Usage{PromptTokens: 7000, CompletionTokens: 50, CachedTokens: 4000, ReasoningTokens: 20}}
	up.SetScript(s)
	body := `{"contents":[{"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[{"text":"hm","thoughtSignature":"c2ln"}]},` +
		`{"role":"user","parts":[{"text":"again"}]}],"tools":[{"googleSearch":{}}],"cachedContent":"cachedContents/abc",` +
		`"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}],"generationConfig":{"maxOutputTokens":300,"responseLogprobs":true}}`
	cases := []struct{ path, upPath, upQuery, ct string }{
		{"/v1beta/models/gemini-2.5-flash:generateContent", "/v1beta/models/gemini-2.5-flash:generateContent", "", "application/json"},
		{"/v1beta/models/gemini/gemini-2.5-flash:streamGenerateContent?alt=sse", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse", "text/event-stream"},
		{"/v1/models/gemini-2.5-flash:streamGenerateContent", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "", "application/json"},
	}
	for _, c := range cases {
		status, ct, b := e.geminiCall(c.path, token, body)
		if status != 200 || !strings.HasPrefix(ct, c.ct) || !strings.Contains(string(b), "Straight") {
			t.Fatalf("%s: %d %s %s", c.path, status, ct, b)
		}
		got := up.LastRequest()
		if string(got.Body) != body || got.Path != c.upPath || got.RawQuery != c.upQuery || got.Key != up.Key ||
			strings.Contains(fmtHeader(got.Header), token) {
			t.Errorf("%s: upstream got %s?%s key %q %v\n%s", c.path, got.Path, got.RawQuery, got.Key, got.Header, got.Body)
		}
	}
	recs := e.usageOf(u)
	if len(recs) != len(cases) {
		t.Fatalf("%d records", len(recs))
	}
	for _, rec := range recs {
		checkUsage(t, rec, s, "gemini/gemini-2.5-flash", polydev.UsageOK)
		if rec.Surface != "gemini" {
			t.Errorf("surface %q", rec.Surface)
		}
	}

	// countTokens: Gemini's own count, nothing billed.
	status, _, b := e.geminiCall("/v1beta/models/gemini-2.5-flash:countTokens", token, body)
	var count struct{ TotalTokens int }
	if status != 200 || json.Unmarshal(b, &count) != nil || count.TotalTokens != s.Usage.PromptTokens ||
		!strings.HasSuffix(up.LastRequest().Path, ":countTokens") {
		t.Errorf("countTokens: %d %s", status, b)
	}
	if recs := e.usageOf(u); len(recs) != len(cases) {
		t.Errorf("countTokens left a usage record: %d records", len(recs))
	}

	// Upstream errors keep Google's shape; a repeated maxOutputTokens is refused before any call.
	up.SetScript(testkit.ErrorScript(429))
	status, _, b = e.geminiCall("/v1beta/models/gemini-2.5-flash:generateContent", token, body)
	if status != 429 || !strings.Contains(string(b), `"status":"RESOURCE_EXHAUSTED"`) {
		t.Errorf("upstream 429: %d %s", status, b)
	}
	n := up.RequestCount()
	status, _, b = e.geminiCall("/v1beta/models/gemini-2.5-flash:generateContent", token,
		`{"contents":[],"generationConfig":{"maxOutputTokens":1,"max_output_tokens":900000}}`)
	if status != 400 || !strings.Contains(string(b), "given twice") || up.RequestCount() != n {
		t.Errorf("repeated cap: %d %s", status, b)
	}
}

func fmtHeader(h http.Header) string {
	var b strings.Builder
	for k, v := range h {
		b.WriteString(k + ": " + strings.Join(v, ",") + "\n")
	}
	return b.String()
}
