package anthropic

import (
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/providertest"
)

var schema = json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}`)

func optReq(model string, set func(r *llm.Request)) *llm.Request {
	r := &llm.Request{Model: model, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("x")}}}}
	set(r)
	return r
}

func TestEncodeOptions(t *testing.T) {
	t.Parallel()
	weather := llm.Tool{Name: "weather", Parameters: json.RawMessage(`{"type":"object"}`)}
	cases := []struct {
		name   string
		model  string
		set    func(r *llm.Request)
		want   string
		absent []string
	}{
		{"json_schema natively on 4.5", "claude-sonnet-4-5-20250929",
			func(r *llm.Request) {
				r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "p", Schema: schema}
			},
			`{"output_config":{"format":{"type":"json_schema","schema":` + string(schema) + `}}}`, []string{"tools", "tool_choice"}},
		{"json_schema on an unversioned alias is native", "claude-latest",
			func(r *llm.Request) {
				r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "p", Schema: schema}
			},
			`{"output_config":{"format":{"type":"json_schema","schema":` + string(schema) + `}}}`, nil},
		{"json_schema through a forced tool before 4.5", "claude-opus-4-1",
			func(r *llm.Request) {
				r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "p", Description: "a person", Schema: schema}
			},
			`{"tools":[{"name":"json_response","description":"a person","input_schema":` + string(schema) + `}],"tool_choice":{"type":"tool","name":"json_response"}}`,
			[]string{"output_config"}},
		{"json_object through a forced tool", "claude-haiku-4-5",
			func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject} },
			`{"tools":[{"name":"json_response","description":"Give the answer as this tool's input; it is the whole response.","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"json_response"}}`,
			[]string{"output_config"}},
		{"json_object beside the client's tools: any tool", "claude-haiku-4-5",
			func(r *llm.Request) {
				r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject}
				r.Tools = []llm.Tool{weather}
			},
			`{"tool_choice":{"type":"any"}}`, nil},
		{"effort on 4.5: a budget, max_tokens grows by it", "claude-sonnet-4-5",
			func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "medium"} },
			`{"thinking":{"type":"enabled","budget_tokens":8192},"max_tokens":12288}`, []string{"output_config"}},
		{"effort within the client's cap", "claude-sonnet-4-5",
			func(r *llm.Request) { r.Reasoning, r.MaxTokens = &llm.Reasoning{Effort: "high"}, 3000 },
			`{"thinking":{"type":"enabled","budget_tokens":2999},"max_tokens":3000}`, nil},
		{"minimal is the smallest budget", "claude-3-7-sonnet-latest",
			func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "minimal"} },
			`{"thinking":{"type":"enabled","budget_tokens":1024}}`, nil},
		{"none: no thinking", "claude-sonnet-4-5",
			func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "none"} },
			`{"max_tokens":4096}`, []string{"thinking", "output_config"}},
		{"effort on 4.6: adaptive", "claude-opus-4-6",
			func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "low"} },
			`{"thinking":{"type":"adaptive"},"output_config":{"effort":"low"},"max_tokens":4096}`, nil},
		{"xhigh is max, beside a schema", "claude-opus-4-7",
			func(r *llm.Request) {
				r.Reasoning = &llm.Reasoning{Effort: "xhigh"}
				r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "p", Schema: schema}
			},
			`{"thinking":{"type":"adaptive"},"output_config":{"effort":"max","format":{"type":"json_schema","schema":` + string(schema) + `}}}`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, err := encodeRequest(optReq(c.model, c.set), false, DefaultMaxTokens)
			if err != nil {
				t.Fatal(err)
			}
			providertest.AssertFields(t, body, c.want, c.absent...)
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	t.Parallel()
	seed, pen, temp := int64(1), 0.5, 0.3
	cases := []struct {
		name, model string
		set         func(r *llm.Request)
		field       string
	}{
		{"seed", "claude-sonnet-4-5", func(r *llm.Request) { r.Seed = &seed }, "seed:"},
		{"frequency_penalty", "claude-sonnet-4-5", func(r *llm.Request) { r.FrequencyPenalty = &pen }, "frequency_penalty:"},
		{"presence_penalty", "claude-sonnet-4-5", func(r *llm.Request) { r.PresencePenalty = &pen }, "presence_penalty:"},
		{"schema missing", "claude-sonnet-4-5", func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "p"} }, "response_format.json_schema.schema"},
		{"unknown effort", "claude-sonnet-4-5", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "extreme"} }, "reasoning_effort:"},
		{"temperature with thinking", "claude-sonnet-4-5", func(r *llm.Request) { r.Reasoning, r.Temperature = &llm.Reasoning{Effort: "low"}, &temp }, "temperature:"},
		{"forced tool with thinking", "claude-sonnet-4-5", func(r *llm.Request) {
			r.Reasoning = &llm.Reasoning{Effort: "low"}
			r.Tools, r.ToolChoice = []llm.Tool{{Name: "f"}}, llm.ToolChoice{Mode: llm.ToolChoiceRequired}
		}, "tool_choice:"},
		{"json_object with thinking", "claude-sonnet-4-5", func(r *llm.Request) {
			r.Reasoning, r.ResponseFormat = &llm.Reasoning{Effort: "low"}, &llm.ResponseFormat{Type: llm.FormatJSONObject}
		}, "response_format:"},
		{"a cap below the smallest budget", "claude-sonnet-4-5", func(r *llm.Request) { r.Reasoning, r.MaxTokens = &llm.Reasoning{Effort: "low"}, 1024 }, "max_completion_tokens:"},
		{"the JSON tool's name taken", "claude-haiku-4-5", func(r *llm.Request) {
			r.ResponseFormat, r.Tools = &llm.ResponseFormat{Type: llm.FormatJSONObject}, []llm.Tool{{Name: jsonToolName}}
		}, "tools:"},
	}
	// The same combinations with a hint (an Anthropic-format client's default thinking, crossing
	// back): thinking is left out, the request goes.
	for _, c := range cases {
		r := optReq(c.model, c.set)
		if r.Reasoning == nil || c.name == "unknown effort" {
			continue
		}
		r.Reasoning.Hint = true
		if err := (&Provider{}).Check(r); err != nil {
			t.Errorf("%s with a hint: %v", c.name, err)
		}
		body, err := encodeRequest(r, false, DefaultMaxTokens)
		if err != nil || strings.Contains(string(body), `"thinking"`) {
			t.Errorf("%s with a hint: %s %v", c.name, body, err)
		}
	}
	for _, c := range cases {
		r := optReq(c.model, c.set)
		err := (&Provider{}).Check(r)
		if polydev.ErrorCode(err) != polydev.EINVALID || !strings.HasPrefix(polydev.ErrorMessage(err), c.field) {
			t.Errorf("%s: Check = %v, want EINVALID starting %q", c.name, err, c.field)
		}
		if _, err2 := encodeRequest(r, false, DefaultMaxTokens); polydev.ErrorMessage(err2) != polydev.ErrorMessage(err) {
			t.Errorf("%s: encodeRequest = %v, Check = %v", c.name, err2, err)
		}
	}
}

func TestClaudeVersion(t *testing.T) {
	t.Parallel()
	for model, want := range map[string][3]int{
		"claude-sonnet-4-5-20250929": {4, 5, 1}, "claude-3-7-sonnet-latest": {3, 7, 1}, "claude-sonnet-4-20250514": {4, 0, 1},
		"claude-opus-4-6": {4, 6, 1}, "claude-3-5-haiku-latest": {3, 5, 1}, "claude-sonnet-4-0": {4, 0, 1}, "claude-latest": {0, 0, 0},
	} {
		ma, mi, ok := claudeVersion(model)
		if got := [3]int{ma, mi, map[bool]int{true: 1}[ok]}; got != want {
			t.Errorf("%s: %v, want %v", model, got, want)
		}
	}
}

func TestUnwrapJSONTool(t *testing.T) {
	t.Parallel()
	resp := &llm.Response{StopReason: llm.StopToolUse, Content: []llm.Part{
		{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "t1", Name: jsonToolName, Arguments: json.RawMessage(`{"a":"b"}`)}}}}
	unwrapJSONTool(resp)
	if want := []llm.Part{llm.TextPart(`{"a":"b"}`)}; !reflect.DeepEqual(resp.Content, want) || resp.StopReason != llm.StopEndTurn {
		t.Errorf("got %+v %s", resp.Content, resp.StopReason)
	}
}

// events is a canned llm.Stream.
type events struct{ evs []llm.Event }

func (s *events) Next() (llm.Event, error) {
	if len(s.evs) == 0 {
		return llm.Event{}, io.EOF
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}
func (s *events) Usage() llm.Usage { return llm.Usage{} }
func (s *events) Close() error     { return nil }

func TestJSONToolStream(t *testing.T) {
	t.Parallel()
	run := func(in []llm.Event) []llm.Event {
		s := newJSONToolStream(&events{evs: in})
		var out []llm.Event
		for {
			ev, err := s.Next()
			if err != nil {
				return out
			}
			out = append(out, ev)
		}
	}
	got := run([]llm.Event{
		{Kind: llm.EventStart, ID: "m"},
		{Kind: llm.EventToolStart, Index: 0, ID: "t", Name: jsonToolName},
		{Kind: llm.EventToolDelta, Index: 0, Text: ""},
		{Kind: llm.EventToolDelta, Index: 0, Text: `{"a":`},
		{Kind: llm.EventToolDelta, Index: 0, Text: `"b"}`},
		{Kind: llm.EventToolEnd, Index: 0},
		{Kind: llm.EventStop, Stop: llm.StopToolUse},
	})
	want := []llm.Event{{Kind: llm.EventStart, ID: "m"}, {Kind: llm.EventText, Text: `{"a":`}, {Kind: llm.EventText, Text: `"b"}`}, {Kind: llm.EventStop, Stop: llm.StopEndTurn}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("json only:\n got %+v\nwant %+v", got, want)
	}
	// A client tool called after the JSON tool keeps index 0 and the tool_use stop.
	got = run([]llm.Event{
		{Kind: llm.EventToolStart, Index: 0, Name: jsonToolName},
		{Kind: llm.EventToolEnd, Index: 0},
		{Kind: llm.EventToolStart, Index: 1, ID: "c", Name: "weather"},
		{Kind: llm.EventToolDelta, Index: 1, Text: "{}"},
		{Kind: llm.EventToolEnd, Index: 1},
		{Kind: llm.EventStop, Stop: llm.StopToolUse},
	})
	want = []llm.Event{{Kind: llm.EventToolStart, Index: 0, ID: "c", Name: "weather"}, {Kind: llm.EventToolDelta, Index: 0, Text: "{}"}, {Kind: llm.EventToolEnd, Index: 0}, {Kind: llm.EventStop, Stop: llm.StopToolUse}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with a client tool:\n got %+v\nwant %+v", got, want)
	}
}
