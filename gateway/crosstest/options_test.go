package crosstest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/internal/testkit"
)

// TestOptionsAcrossProviders sends each OpenAI generation option through every provider and checks
// the upstream body (the fake records it) or the 400 naming the field, per the table in
// gateway/README.md. Same-provider OpenAI routes pass the client's body through untouched (web
// tests); here the openai adapter's translation is what Anthropic-shaped clients get.
func TestOptionsAcrossProviders(t *testing.T) {
	t.Parallel()
	schema := `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}`
	type want struct {
		fields string // upstream body members (JSON object), or
		err    string // the start of the 400's message
	}
	cases := []struct {
		name    string
		options string // members added to the OpenAI body
		want    map[string]want
	}{
		{"json_object", `"response_format":{"type":"json_object"}`, map[string]want{
			"openai":    {fields: `{"response_format":{"type":"json_object"}}`},
			"anthropic": {fields: `{"tool_choice":{"type":"tool","name":"json_response"}}`},
			"gemini":    {fields: `{"generationConfig":{"responseMimeType":"application/json"}}`},
		}},
		{"json_schema", `"response_format":{"type":"json_schema","json_schema":{"name":"place","strict":true,"schema":` + schema + `}}`, map[string]want{
			"openai":    {fields: `{"response_format":{"type":"json_schema","json_schema":{"name":"place","strict":true,"schema":` + schema + `}}}`},
			"anthropic": {fields: `{"output_config":{"format":{"type":"json_schema","schema":` + schema + `}}}`},
			"gemini":    {fields: `{"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":` + schema + `}}`},
		}},
		{"reasoning_effort", `"reasoning_effort":"low"`, map[string]want{
			"openai":    {fields: `{"reasoning_effort":"low"}`},
			"anthropic": {fields: `{"thinking":{"type":"enabled","budget_tokens":2048},"max_tokens":6144}`},
			"gemini":    {fields: `{"generationConfig":{"thinkingConfig":{"thinkingBudget":2048}}}`},
		}},
		{"seed", `"seed":11`, map[string]want{
			"openai": {fields: `{"seed":11}`}, "anthropic": {err: "seed:"}, "gemini": {fields: `{"generationConfig":{"seed":11}}`},
		}},
		{"frequency_penalty", `"frequency_penalty":0.5`, map[string]want{
			"openai": {fields: `{"frequency_penalty":0.5}`}, "anthropic": {err: "frequency_penalty:"}, "gemini": {fields: `{"generationConfig":{"frequencyPenalty":0.5}}`},
		}},
		{"presence_penalty", `"presence_penalty":-0.5`, map[string]want{
			"openai": {fields: `{"presence_penalty":-0.5}`}, "anthropic": {err: "presence_penalty:"}, "gemini": {fields: `{"generationConfig":{"presencePenalty":-0.5}}`},
		}},
		{"default values are no one's concern", `"n":1,"logprobs":false,"frequency_penalty":0,"presence_penalty":0,"service_tier":"auto","modalities":["text"],"store":false,"metadata":{"k":"v"},"prediction":{"type":"content","content":"x"}`, map[string]want{
			"openai": {fields: `{}`}, "anthropic": {fields: `{}`}, "gemini": {fields: `{}`},
		}},
		{"stop and max_completion_tokens", `"stop":["END"],"max_completion_tokens":300`, map[string]want{
			"openai":    {fields: `{"stop":["END"],"max_tokens":300}`}, // max_completion_tokens for api.openai.com only
			"anthropic": {fields: `{"stop_sequences":["END"],"max_tokens":300}`},
			"gemini":    {fields: `{"generationConfig":{"stopSequences":["END"],"maxOutputTokens":300}}`},
		}},
		{"parallel_tool_calls and user", `"parallel_tool_calls":false,"user":"u-7"`, map[string]want{
			"openai":    {fields: `{"parallel_tool_calls":false,"user":"u-7"}`},
			"anthropic": {fields: `{"tool_choice":{"type":"auto","disable_parallel_tool_use":true},"metadata":{"user_id":"u-7"}}`},
			"gemini":    {fields: `{}`},
		}},
	}
	for _, field := range []string{"n", "logprobs", "top_logprobs", "logit_bias", "service_tier", "modalities", "store", "audio", "functions", "web_search_options"} {
		opts := map[string]string{
			"n": `"n":2`, "logprobs": `"logprobs":true`, "top_logprobs": `"logprobs":true,"top_logprobs":2`, "logit_bias": `"logit_bias":{"1":3}`,
			"service_tier": `"service_tier":"flex"`, "modalities": `"modalities":["text","audio"]`, "store": `"store":true`,
			"audio": `"audio":{"voice":"alloy","format":"wav"}`, "functions": `"functions":[{"name":"f"}]`, "web_search_options": `"web_search_options":{}`,
		}[field]
		first := field
		if field == "top_logprobs" {
			first = "logprobs"
		}
		cases = append(cases, struct {
			name    string
			options string
			want    map[string]want
		}{field, opts, map[string]want{
			// The translating openai adapter drops them; same-provider calls take the passthrough.
			"openai": {fields: `{}`}, "anthropic": {err: first + ": not supported when the model is served by anthropic"},
			"gemini": {err: first + ": not supported when the model is served by gemini"},
		}})
	}
	for _, c := range cases {
		for _, up := range upstreams {
			w := c.want[up.name]
			t.Run(c.name+"/"+up.name, func(t *testing.T) {
				t.Parallel()
				script := testkit.Script{Text: `{"city":"Paris"}`, Usage: scriptUsage}
				if up.name == "anthropic" && strings.Contains(c.options, "json_object") {
					script = testkit.Script{ToolCalls: []testkit.ToolCall{{Name: "json_response", Arguments: `{"city":"Paris"}`}}, Usage: scriptUsage}
				}
				fake := up.new(t, testkit.WithScript(script))
				g := &gateway{inbound: "openai", p: up.p, model: up.model, client: fake.Client(),
					target: provider.Target{BaseURL: fake.BaseURL(), APIKey: fake.Key}, usage: make(chan llm.Usage, 1)}
				gw := startGateway(t, g)
				body := `{"model":"any","messages":[{"role":"user","content":"Where?"}],` + c.options + `}`
				if strings.Contains(c.options, "parallel_tool_calls") {
					body = `{"model":"any","messages":[{"role":"user","content":"Where?"}],"tools":[{"type":"function","function":{"name":"f"}}],` + c.options + `}`
				}
				res := post(t, gw.URL, "openai", []byte(body))
				if w.err != "" {
					if res.status != 400 || !strings.HasPrefix(res.errMsg, w.err) {
						t.Fatalf("status %d %q, want 400 starting %q", res.status, res.errMsg, w.err)
					}
					if n := len(fake.Requests()); n != 0 {
						t.Errorf("%d upstream requests after a refusal", n)
					}
					return
				}
				if res.status != 200 {
					t.Fatalf("status %d: %s", res.status, res.raw)
				}
				if !jsonEqual(res.text, `{"city":"Paris"}`) || len(res.calls) != 0 || res.stop != "stop" {
					t.Errorf("answer %q calls %v stop %q", res.text, res.calls, res.stop)
				}
				assertMembers(t, fake.LastRequest().Body, w.fields)
			})
		}
	}
}

// assertMembers checks that each member of want equals the body's (nested objects compared as a
// subset, so generationConfig's other members do not matter).
func assertMembers(t *testing.T, body []byte, want string) {
	t.Helper()
	var got, exp map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("upstream body: %v", err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("want: %v", err)
	}
	if !subset(exp, got) {
		t.Errorf("upstream body %s\nlacks %s", body, want)
	}
}

func subset(want, got any) bool {
	wm, ok := want.(map[string]any)
	if !ok {
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		return string(wb) == string(gb)
	}
	gm, ok := got.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range wm {
		if g, ok := gm[k]; !ok || !subset(v, g) {
			return false
		}
	}
	return true
}
