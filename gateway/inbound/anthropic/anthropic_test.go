package anthropic

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/internal/testkit"
)

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	body := `{
		"model":"openai/gpt-4o-mini","max_tokens":1024,"api_key":"sk-attacker","base_url":"http://evil.invalid",
		"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Use metric."}],
		"messages":[
			{"role":"user","content":[{"type":"text","text":"Look:"},{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/"}}]},
			{"role":"assistant","content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Paris"}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"18C"},{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,"content":[{"type":"text","text":"again"}]},{"type":"text","text":"Thanks"}]}
		],
		"tools":[{"name":"get_weather","description":"w","input_schema":{"type":"object"}}],
		"tool_choice":{"type":"any","disable_parallel_tool_use":true},
		"temperature":0.3,"top_p":0.5,"top_k":5,"stop_sequences":["END"],"stream":true,
		"metadata":{"user_id":"u-9"},"thinking":{"type":"enabled","budget_tokens":1024}
	}`
	r, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	temp, topP := 0.3, 0.5
	want := &llm.Request{
		Model: "openai/gpt-4o-mini", System: "Be brief.\n\nUse metric.",
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Look:"), {Kind: llm.PartImage, Image: &llm.Image{MediaType: "image/jpeg", Data: "/9j/"}}}},
			{Role: llm.RoleAssistant, Content: []llm.Part{llm.TextPart("Checking."), {Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "toolu_1", Name: "get_weather", Arguments: json.RawMessage(`{"location":"Paris"}`)}}}},
			{Role: llm.RoleTool, Content: []llm.Part{
				{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "toolu_1", Content: []llm.Part{llm.TextPart("18C")}}},
				{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "toolu_1", IsError: true, Content: []llm.Part{llm.TextPart("again")}}}}},
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Thanks")}},
		},
		Tools:      []llm.Tool{{Name: "get_weather", Description: "w", Parameters: json.RawMessage(`{"type":"object"}`)}},
		ToolChoice: llm.ToolChoice{Mode: llm.ToolChoiceRequired, DisableParallel: true},
		MaxTokens:  1024, Temperature: &temp, TopP: &topP, Stop: []string{"END"}, Stream: true, User: "u-9",
		Reasoning: &llm.Reasoning{Effort: llm.EffortMinimal, Hint: true}, // budget 1024: the effort that covers it
	}
	if !reflect.DeepEqual(r, want) {
		g, _ := json.MarshalIndent(r, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("got %s\nwant %s", g, w)
	}
}

func TestDecodeRequestInvalid(t *testing.T) {
	t.Parallel()
	msgs := `"messages":[{"role":"user","content":"x"}]`
	cases := map[string]string{
		``:                              "empty",
		`{`:                             "not valid JSON",
		`{"max_tokens":5,` + msgs + `}`: "model: Field required",
		`{"model":"m",` + msgs + `}`:    "max_tokens: Field required",
		`{"model":"m","max_tokens":0,` + msgs + `}`:                                                  "max_tokens",
		`{"model":"m","max_tokens":"5",` + msgs + `}`:                                                "max_tokens",
		`{"model":"m","max_tokens":5,"messages":[]}`:                                                 "messages",
		`{"model":"m","max_tokens":5,` + msgs + `,"temperature":1.5}`:                                "temperature",
		`{"model":"m","max_tokens":5,` + msgs + `,"system":[{"type":"image"}]}`:                      "system[0].type",
		`{"model":"m","max_tokens":5,` + msgs + `,"tools":[{"name":"f"}]}`:                           "input_schema",
		`{"model":"m","max_tokens":5,` + msgs + `,"tools":[{"type":"bash_20250124","name":"bash"}]}`: "server tool",
		`{"model":"m","max_tokens":5,` + msgs + `,"tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"web_search_20250305","name":"web_search"}]}`:     "tools[1].type: server tool \"web_search_20250305\" runs only on anthropic/ models",
		`{"model":"m","max_tokens":5,` + msgs + `,"tool_choice":{"type":"tool","name":"f"}}`:                                                                       "not among tools",
		`{"model":"m","max_tokens":5,` + msgs + `,"tool_choice":{"type":"maybe"}}`:                                                                                 "tool_choice.type",
		`{"model":"m","max_tokens":5,"messages":[{"role":"developer","content":"x"}]}`:                                                                             "user, assistant or system",
		`{"model":"m","max_tokens":5,"messages":[{"role":"system","content":[{"type":"image"}]}]}`:                                                                 "messages[0].content[0].type",
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"url","url":"https://x/a.pdf"}}]}]}`:                "only supported on anthropic/ models",
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"image/png","data":"x"}}]}]}`: "application/pdf",
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"server_tool_use","id":"s","name":"web_search"}]}]}`:                            "messages[0].content[0].type",
		`{"model":"m","max_tokens":5,"messages":[{"role":"user"}]}`:                                                                                                "content: Field required",
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document"}]}]}`:                                                                "content[0].source: Field required",
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}`:                            "base64 or url",
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"ftp://x"}}]}]}`:                           "http(s)",
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"nope"}]}]}`:                                        "no earlier tool_use",
		`{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":[1]}]}]}`:                           "must be an object",
		`{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f"}]}]}`:                                                "needs id and name",
	}
	for body, want := range cases {
		_, err := DecodeRequest([]byte(body))
		if polydev.ErrorCode(err) != polydev.EINVALID || !strings.Contains(polydev.ErrorMessage(err), want) {
			t.Errorf("%s: got %v, want EINVALID mentioning %q", body, err, want)
		}
	}
}

// TestDecodeClaudeCodeShapes: what Claude Code sends to a non-Anthropic model translates:
// mid-conversation system messages join the system prompt, PDFs become document parts (also from
// a tool result, where they follow the results), text documents text, thinking and cache_control
// are dropped, tools with extra fields are kept.
func TestDecodeClaudeCodeShapes(t *testing.T) {
	t.Parallel()
	body := `{"model":"openai/gpt-4o","max_tokens":32000,"thinking":{"type":"adaptive"},"context_management":{"edits":[]},"output_config":{"effort":"high"},
		"system":[{"type":"text","text":"You are Claude Code.","cache_control":{"type":"ephemeral"}}],
		"messages":[
			{"role":"user","content":[{"type":"text","text":"read it","cache_control":{"type":"ephemeral"}}]},
			{"role":"system","content":[{"type":"text","text":"<system-reminder>r1</system-reminder>","cache_control":{"type":"ephemeral"}}]},
			{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"redacted_thinking","data":"x"},{"type":"tool_use","id":"toolu_1","name":"Read","input":{"file_path":"/a.pdf"}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"PDF read"},{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}],"cache_control":{"type":"ephemeral"}},
				{"type":"document","title":"notes","source":{"type":"text","media_type":"text/plain","data":"plain notes"}}]},
			{"role":"system","content":"r2"}
		],
		"tools":[{"name":"Read","description":"reads","input_schema":{"type":"object"},"defer_loading":true,"cache_control":{"type":"ephemeral"}}]}`
	r, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	pdf := llm.Part{Kind: llm.PartDocument, Document: &llm.Document{MediaType: "application/pdf", Data: "JVBERi0="}}
	want := []llm.Message{
		{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("read it")}},
		{Role: llm.RoleAssistant, Content: []llm.Part{{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "toolu_1", Name: "Read", Arguments: json.RawMessage(`{"file_path":"/a.pdf"}`)}}}},
		{Role: llm.RoleTool, Content: []llm.Part{{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "toolu_1", Content: []llm.Part{llm.TextPart("PDF read")}}}}},
		{Role: llm.RoleUser, Content: []llm.Part{pdf, llm.TextPart("notes"), llm.TextPart("plain notes")}},
	}
	if r.System != "You are Claude Code.\n\n<system-reminder>r1</system-reminder>\n\nr2" || !reflect.DeepEqual(r.Messages, want) || len(r.Tools) != 1 {
		g, _ := json.MarshalIndent(r, "", " ")
		t.Fatalf("got %s", g)
	}
	// Claude Code's own request for an OpenAI model, as recorded.
	if _, err := DecodeRequest(testkit.Payload("agents/claude-code/messages_model_openai.json")); err != nil {
		t.Fatalf("Claude Code's request: %v", err)
	}
}

func TestAppendResponse(t *testing.T) {
	t.Parallel()
	resp := &llm.Response{ID: "msg_1", Model: "m", StopReason: llm.StopSequence, StopSequence: "END",
		Content: []llm.Part{llm.TextPart("hi"), {Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "t1", Name: "f", Arguments: json.RawMessage(`{broken`)}}},
		Usage:   llm.Usage{InputTokens: 100, CacheReadTokens: 60, CacheWriteTokens: 10, OutputTokens: 7}}
	want := `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t1","name":"f","input":{}}],"stop_reason":"stop_sequence","stop_sequence":"END","usage":{"input_tokens":30,"cache_creation_input_tokens":10,"cache_read_input_tokens":60,"output_tokens":7}}`
	if got := string(AppendResponse(nil, resp)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for in, want := range map[llm.StopReason]string{llm.StopEndTurn: "end_turn", llm.StopMaxTokens: "max_tokens", llm.StopToolUse: "tool_use",
		llm.StopSequence: "stop_sequence", llm.StopContentFilter: "refusal", llm.StopError: "end_turn"} {
		if got := StopReason(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		typ    string
	}{
		{polydev.Errorf(polydev.EINVALID, "bad"), 400, "invalid_request_error"},
		{polydev.Errorf(polydev.EUNAUTHORIZED, "who"), 401, "authentication_error"},
		{polydev.Errorf(polydev.ENOTFOUND, "no"), 404, "not_found_error"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrOverloaded, Status: 503, Message: "busy"}, 529, "overloaded_error"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrRateLimit, Status: 429, Message: "wait"}, 429, "rate_limit_error"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrAuth, Status: 401, Message: "key"}, 502, "api_error"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrTimeout, Message: "slow"}, 504, "timeout_error"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrInvalidRequest, Status: 413, Message: "big"}, 413, "request_too_large"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		WriteError(rec, c.err)
		var body struct {
			Type  string
			Error struct{ Type, Message string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.status || body.Type != "error" || body.Error.Type != c.typ || body.Error.Message == "" {
			t.Errorf("%v: %d %+v", c.err, rec.Code, body)
		}
	}
}

type fakeStream struct {
	evs []llm.Event
	err error
}

func (f *fakeStream) Next() (llm.Event, error) {
	if len(f.evs) == 0 {
		return llm.Event{}, f.err
	}
	ev := f.evs[0]
	f.evs = f.evs[1:]
	return ev, nil
}
func (f *fakeStream) Usage() llm.Usage { return llm.Usage{} }
func (f *fakeStream) Close() error     { return nil }

// TestStreamBlocks: text and tool calls interleaved become properly opened and closed blocks.
func TestStreamBlocks(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	s := &fakeStream{err: &llm.Error{Provider: "gemini", Kind: llm.ErrServer, Message: "late"}, evs: []llm.Event{
		{Kind: llm.EventStart, ID: "r1", Model: "m", Usage: llm.Usage{InputTokens: 9}},
		{Kind: llm.EventText, Text: "a"},
		{Kind: llm.EventToolStart, Index: 0, ID: "c0", Name: "f"},
		{Kind: llm.EventToolDelta, Index: 0, Text: `{"x":`},
		{Kind: llm.EventToolDelta, Index: 0, Text: `1}`},
		{Kind: llm.EventToolEnd, Index: 0},
		{Kind: llm.EventText, Text: "b"},
		{Kind: llm.EventToolStart, Index: 1, ID: "c1", Name: "g"},
		{Kind: llm.EventToolEnd, Index: 1},
	}}
	Relay(rec, s)
	events, err := testkit.ParseSSE(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range events {
		names = append(names, e.Event)
	}
	want := "message_start content_block_start content_block_delta content_block_stop content_block_start content_block_delta content_block_delta content_block_stop " +
		"content_block_start content_block_delta content_block_stop content_block_start content_block_stop error"
	if strings.Join(names, " ") != want {
		t.Errorf("events:\n%s\nwant\n%s", strings.Join(names, " "), want)
	}
	if !strings.Contains(events[0].Data, `"input_tokens":9`) || !strings.Contains(events[4].Data, `"index":1`) || !strings.Contains(events[11].Data, `"index":3`) {
		t.Errorf("body:\n%s", rec.Body)
	}
	if !strings.Contains(events[len(events)-1].Data, `"type":"api_error","message":"gemini: late"`) {
		t.Errorf("error event %s", events[len(events)-1].Data)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"stream":true}`))
	f.Add([]byte(`{"model":"m","max_tokens":5,"system":"s","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"x"}]}]}],"tools":[{"name":"f","input_schema":{}}],"tool_choice":{"type":"auto"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeRequest(body)
		if err != nil {
			if polydev.ErrorCode(err) != polydev.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if r.Model == "" || r.MaxTokens < 1 {
			t.Fatalf("accepted %+v", r)
		}
	})
}
