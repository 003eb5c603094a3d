package openai

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	body := `{
		"model":"anthropic/claude-sonnet-4-5",
		"api_key":"sk-attacker","base_url":"http://evil.invalid","provider":{"url":"x"},
		"messages":[
			{"role":"system","content":"Be brief."},
			{"role":"developer","content":[{"type":"text","text":"Use metric."}]},
			{"role":"user","content":[{"type":"text","text":"Look:"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo=","detail":"low"}},{"type":"image_url","image_url":{"url":"https://example.com/a.jpg"}}]},
			{"role":"assistant","content":null,"tool_calls":[
				{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}},
				{"id":"call_b","type":"function","function":{"name":"get_time","arguments":""}}]},
			{"role":"tool","tool_call_id":"call_a","content":"18C"},
			{"role":"tool","tool_call_id":"call_b","content":[{"type":"text","text":"noon"}]},
			{"role":"user","content":"Thanks","name":"bob"}
		],
		"tools":[{"type":"function","function":{"name":"get_weather","description":"w","parameters":{"type":"object"},"strict":true}},{"type":"function","function":{"name":"get_time"}}],
		"tool_choice":{"type":"function","function":{"name":"get_time"}},
		"parallel_tool_calls":false,
		"max_tokens":10,"max_completion_tokens":20,"temperature":0.2,"top_p":1,"stop":"END",
		"stream":true,"stream_options":{"include_usage":true},"user":"u-1","n":1,"seed":7,"logprobs":false
	}`
	r, opts, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	temp, topP, seed := 0.2, 1.0, int64(7)
	want := &llm.Request{
		Model:  "anthropic/claude-sonnet-4-5",
		System: "Be brief.\n\nUse metric.",
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Look:"), {Kind: llm.PartImage, Image: &llm.Image{MediaType: "image/png", Data: "iVBORw0KGgo="}}, {Kind: llm.PartImage, Image: &llm.Image{URL: "https://example.com/a.jpg"}}}},
			{Role: llm.RoleAssistant, Content: []llm.Part{
				{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_a", Name: "get_weather", Arguments: json.RawMessage(`{"location":"Paris"}`)}},
				{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_b", Name: "get_time", Arguments: json.RawMessage(`{}`)}}}},
			{Role: llm.RoleTool, Content: []llm.Part{
				{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "call_a", Content: []llm.Part{llm.TextPart("18C")}}},
				{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "call_b", Content: []llm.Part{llm.TextPart("noon")}}}}},
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Thanks")}},
		},
		Tools:       []llm.Tool{{Name: "get_weather", Description: "w", Parameters: json.RawMessage(`{"type":"object"}`)}, {Name: "get_time"}},
		ToolChoice:  llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "get_time", DisableParallel: true},
		MaxTokens:   20,
		Temperature: &temp,
		TopP:        &topP,
		Stop:        []string{"END"},
		Stream:      true,
		User:        "u-1",
		Seed:        &seed,
		Native:      llm.Native{Format: llm.NativeOpenAIChat},
	}
	if !reflect.DeepEqual(r, want) {
		g, _ := json.MarshalIndent(r, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("got %s\nwant %s", g, w)
	}
	if !opts.IncludeUsage {
		t.Error("include_usage lost")
	}
}

func TestDecodeRequestInvalid(t *testing.T) {
	t.Parallel()
	msgs := `"messages":[{"role":"user","content":"x"}]`
	cases := map[string]string{
		``:    "empty",
		`   `: "empty",
		`{`:   "not valid JSON",
		`[]`:  "JSON object",
		`{"messages":[{"role":"user","content":"x"}]}`: "model: required",
		`{"model":"m"}`:                                                                                   "messages",
		`{"model":"m","messages":[]}`:                                                                     "messages",
		`{"model":5,` + msgs + `}`:                                                                        "model",
		`{"model":"m",` + msgs + `,"temperature":3}`:                                                      "temperature",
		`{"model":"m",` + msgs + `,"temperature":"1"}`:                                                    "temperature",
		`{"model":"m",` + msgs + `,"top_p":2}`:                                                            "top_p",
		`{"model":"m",` + msgs + `,"n":0}`:                                                                "n:",
		`{"model":"m",` + msgs + `,"top_logprobs":3}`:                                                     "requires logprobs",
		`{"model":"m",` + msgs + `,"logprobs":true,"top_logprobs":21}`:                                    "top_logprobs",
		`{"model":"m",` + msgs + `,"logit_bias":{"50256":-101}}`:                                          "logit_bias.50256",
		`{"model":"m",` + msgs + `,"frequency_penalty":2.5}`:                                              "frequency_penalty",
		`{"model":"m",` + msgs + `,"presence_penalty":-3}`:                                                "presence_penalty",
		`{"model":"m",` + msgs + `,"seed":"x"}`:                                                           "seed",
		`{"model":"m",` + msgs + `,"reasoning_effort":5}`:                                                 "reasoning_effort",
		`{"model":"m",` + msgs + `,"response_format":{"type":"xml"}}`:                                     "response_format.type",
		`{"model":"m",` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"schema":{}}}}`: "json_schema.name",
		`{"model":"m",` + msgs + `,"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":[]}}}`: "json_schema.schema",
		`{"model":"m",` + msgs + `,"max_tokens":0}`:                                                                                     "at least 1",
		`{"model":"m",` + msgs + `,"stop":[1]}`:                                                                                         "stop",
		`{"model":"m",` + msgs + `,"stop":["a","b","c","d","e"]}`:                                                                       "at most 4",
		`{"model":"m",` + msgs + `,"response_format":{"type":"json_schema"}}`:                                                           "response_format",
		`{"model":"m",` + msgs + `,"tools":[{"type":"web_search"}]}`:                                                                    "tools[0].type",
		`{"model":"m",` + msgs + `,"tools":[{"type":"function"}]}`:                                                                      "tools[0].function",
		`{"model":"m",` + msgs + `,"tools":[{"function":{"name":"bad name"}}]}`:                                                         "tools[0].function.name",
		`{"model":"m",` + msgs + `,"tools":[{"function":{"name":"f","parameters":[]}}]}`:                                                "parameters",
		`{"model":"m",` + msgs + `,"tool_choice":"sometimes"}`:                                                                          "tool_choice",
		`{"model":"m",` + msgs + `,"tool_choice":"required"}`:                                                                           "needs tools",
		`{"model":"m",` + msgs + `,"tool_choice":{"type":"function","function":{"name":"f"}}}`:                                          "not among tools",
		`{"model":"m","messages":[{"role":"wizard","content":"x"}]}`:                                                                    "messages[0].role",
		`{"model":"m","messages":[{"content":"x"}]}`:                                                                                    "messages[0].role: required",
		`{"model":"m","messages":[{"role":"system","content":"x"}]}`:                                                                    "at least one user message",
		`{"model":"m","messages":[{"role":"user"}]}`:                                                                                    "messages[0].content: required",
		`{"model":"m","messages":[{"role":"user","content":5}]}`:                                                                        "messages[0].content",
		`{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}`:                                                 "messages[0].content[0].type",
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}]}]}`:          "http(s) URL",
		`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:text/plain;base64,eA=="}}]}]}`: "data URL",
		`{"model":"m","messages":[{"role":"system","content":[{"type":"image_url"}]}]}`:                                                 "only text",
		`{"model":"m","messages":[{"role":"assistant","content":null}]}`:                                                                "content or tool_calls",
		`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f"}}]}]}`:                                      "tool_calls[0].id",
		`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{bad"}}]}]}`:          "arguments",
		`{"model":"m","messages":[{"role":"tool","content":"x"}]}`:                                                                      "tool_call_id: required",
		`{"model":"m","messages":[{"role":"tool","tool_call_id":"c","content":"x"}]}`:                                                   "answers no earlier tool call",
	}
	for body, want := range cases {
		_, _, err := DecodeRequest([]byte(body))
		if polydev.ErrorCode(err) != polydev.EINVALID || !strings.Contains(polydev.ErrorMessage(err), want) {
			t.Errorf("%s: got %v, want EINVALID mentioning %q", body, err, want)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`))
	f.Add([]byte(`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"a","content":[{"type":"text","text":"x"}]}],"tools":[{"function":{"name":"f","parameters":{}}}],"tool_choice":"auto","stop":["x"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, _, err := DecodeRequest(body)
		if err != nil {
			if polydev.ErrorCode(err) != polydev.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if r.Model == "" || len(r.Messages) == 0 {
			t.Fatalf("accepted %+v", r)
		}
		for _, m := range r.Messages {
			for _, p := range m.Content {
				if p.Kind == llm.PartToolCall && !json.Valid(p.ToolCall.Arguments) {
					t.Fatalf("invalid arguments accepted: %q", p.ToolCall.Arguments)
				}
			}
		}
	})
}
