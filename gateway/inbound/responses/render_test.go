package responses

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/internal/testkit"
)

var testUsage = llm.Usage{InputTokens: 1536, CacheReadTokens: 1024, OutputTokens: 96, ReasoningTokens: 64}

type wireUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

type wireResponse struct {
	ID                string
	Object            string
	Status            string
	Model             string
	Store             bool
	IncompleteDetails *struct{ Reason string } `json:"incomplete_details"`
	Error             *struct{ Code, Message string }
	Output            []struct {
		ID, Type, Status, Role string
		Content                []struct{ Type, Text string }
		CallID                 string `json:"call_id"`
		Name, Arguments, Input string
		Namespace              string
	}
	Usage *wireUsage
}

func checkWireUsage(t *testing.T, u *wireUsage) {
	t.Helper()
	if u == nil || u.InputTokens != 1536 || u.InputTokensDetails.CachedTokens != 1024 || u.OutputTokens != 96 ||
		u.OutputTokensDetails.ReasoningTokens != 64 || u.TotalTokens != 1632 {
		t.Fatalf("usage = %+v", u)
	}
}

func TestWriteResponse(t *testing.T) {
	resp := &llm.Response{ID: "chatcmpl-1", Model: "claude", StopReason: llm.StopToolUse, Usage: testUsage, Content: []llm.Part{
		llm.TextPart("Let me "), llm.TextPart("look."),
		{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "shell", Arguments: json.RawMessage(`{"command":["ls"]}`)}},
		{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_2", Name: "apply_patch", Arguments: json.RawMessage(`{"input":"*** Begin Patch"}`)}},
	}}
	rec := httptest.NewRecorder()
	opts := &Options{Model: "anthropic/claude", Tools: map[string]ToolRef{"apply_patch": {Name: "apply_patch", Custom: true}}, Store: true, ParallelToolCalls: true, Metadata: json.RawMessage("{\n \"a\": \"b\"\n}")}
	if err := WriteResponse(rec, resp, opts); err != nil {
		t.Fatal(err)
	}
	var got wireResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if !strings.HasPrefix(got.ID, "resp_") || got.Object != "response" || got.Status != "completed" || got.Model != "anthropic/claude" || got.Store {
		t.Fatalf("response = %+v", got)
	}
	if len(got.Output) != 3 {
		t.Fatalf("output = %+v", got.Output)
	}
	msg, call, custom := got.Output[0], got.Output[1], got.Output[2]
	if msg.Type != "message" || msg.Role != "assistant" || len(msg.Content) != 1 || msg.Content[0].Text != "Let me look." || msg.Content[0].Type != "output_text" {
		t.Fatalf("message = %+v", msg)
	}
	if call.Type != "function_call" || call.CallID != "call_1" || call.Name != "shell" || call.Arguments != `{"command":["ls"]}` || !strings.HasPrefix(call.ID, "fc_") {
		t.Fatalf("call = %+v", call)
	}
	if custom.Type != "custom_tool_call" || custom.CallID != "call_2" || custom.Input != "*** Begin Patch" {
		t.Fatalf("custom call = %+v", custom)
	}
	checkWireUsage(t, got.Usage)
}

func TestWriteResponseIncomplete(t *testing.T) {
	rec := httptest.NewRecorder()
	_ = WriteResponse(rec, &llm.Response{Content: []llm.Part{llm.TextPart("cut")}, StopReason: llm.StopMaxTokens}, &Options{Model: "m"})
	var got wireResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Status != "incomplete" || got.IncompleteDetails == nil || got.IncompleteDetails.Reason != "max_output_tokens" {
		t.Fatalf("%+v %v", got, err)
	}
}

// events is a canned stream.
type events struct {
	evs []llm.Event
	err error
	i   int
}

func (s *events) Next() (llm.Event, error) {
	if s.i < len(s.evs) {
		s.i++
		return s.evs[s.i-1], nil
	}
	if s.err != nil {
		return llm.Event{}, s.err
	}
	return llm.Event{}, io.EOF
}
func (s *events) Usage() llm.Usage { return testUsage }
func (s *events) Close() error     { return nil }

func relay(t *testing.T, st llm.Stream, opts *Options) (*httptest.ResponseRecorder, []testkit.Event, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	_, err := Relay(rec, st, opts, 0)
	if rec.Code != http.StatusOK {
		return rec, nil, err
	}
	evs, perr := testkit.ParseSSE(rec.Body.Bytes())
	if perr != nil {
		t.Fatalf("%v\n%s", perr, rec.Body)
	}
	for i, ev := range evs {
		var d struct {
			Type     string
			Sequence *int `json:"sequence_number"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil || d.Type != ev.Event || d.Sequence == nil || *d.Sequence != i {
			t.Fatalf("event %d %s: %s (%v)", i, ev.Event, ev.Data, err)
		}
	}
	return rec, evs, err
}

func types(evs []testkit.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, strings.TrimPrefix(e.Event, "response."))
	}
	return strings.Join(out, " ")
}

func TestStreamTextAndCalls(t *testing.T) {
	st := &events{evs: []llm.Event{
		{Kind: llm.EventStart, ID: "x", Model: "m"},
		{Kind: llm.EventText, Text: "Hel"}, {Kind: llm.EventText, Text: "lo"},
		{Kind: llm.EventToolStart, Index: 0, ID: "call_1", Name: "shell"},
		{Kind: llm.EventToolDelta, Index: 0, Text: `{"command":`}, {Kind: llm.EventToolDelta, Index: 0, Text: `["ls"]}`},
		{Kind: llm.EventToolEnd, Index: 0},
		{Kind: llm.EventToolStart, Index: 1, ID: "call_2", Name: "apply_patch"},
		{Kind: llm.EventToolDelta, Index: 1, Text: `{"input":"*** Begin`}, {Kind: llm.EventToolDelta, Index: 1, Text: ` Patch"}`},
		{Kind: llm.EventStop, Stop: llm.StopToolUse, Usage: testUsage},
	}}
	rec, evs, err := relay(t, st, &Options{Model: "m", Tools: map[string]ToolRef{"apply_patch": {Name: "apply_patch", Custom: true}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "created in_progress output_item.added content_part.added output_text.delta output_text.delta output_text.done content_part.done output_item.done " +
		"output_item.added function_call_arguments.delta function_call_arguments.delta function_call_arguments.done output_item.done " +
		"output_item.added custom_tool_call_input.delta custom_tool_call_input.done output_item.done completed"
	if got := types(evs); got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	var done struct{ Response wireResponse }
	if err := json.Unmarshal([]byte(evs[len(evs)-1].Data), &done); err != nil {
		t.Fatal(err)
	}
	out := done.Response.Output
	if done.Response.Status != "completed" || len(out) != 3 || out[0].Content[0].Text != "Hello" || out[1].Arguments != `{"command":["ls"]}` ||
		out[2].Type != "custom_tool_call" || out[2].Input != "*** Begin Patch" {
		t.Fatalf("completed = %+v", done.Response)
	}
	checkWireUsage(t, done.Response.Usage)
	var textDone struct{ Text string }
	_ = json.Unmarshal([]byte(evs[6].Data), &textDone)
	if textDone.Text != "Hello" {
		t.Fatalf("output_text.done = %s", evs[6].Data)
	}
}

func TestStreamIncomplete(t *testing.T) {
	st := &events{evs: []llm.Event{{Kind: llm.EventStart}, {Kind: llm.EventText, Text: "a"}, {Kind: llm.EventStop, Stop: llm.StopMaxTokens, Usage: testUsage}}}
	_, evs, err := relay(t, st, &Options{Model: "m"})
	if err != nil || evs[len(evs)-1].Event != "response.incomplete" || !strings.Contains(evs[len(evs)-1].Data, `"incomplete_details":{"reason":"max_output_tokens"}`) {
		t.Fatalf("%v %s", err, types(evs))
	}
}

func TestStreamErrors(t *testing.T) {
	// Before any content: a plain HTTP error in OpenAI's shape.
	upErr := &llm.Error{Provider: "anthropic", Kind: llm.ErrOverloaded, Status: 529, Message: "Overloaded"}
	rec, _, err := relay(t, &events{evs: []llm.Event{{Kind: llm.EventStart}}, err: upErr}, &Options{Model: "m"})
	if err == nil || rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"error":{"message":"anthropic: Overloaded"`) {
		t.Fatalf("%d %s (%v)", rec.Code, rec.Body, err)
	}
	// After content: response.failed with the error and what was finished.
	upErr = &llm.Error{Provider: "openai", Kind: llm.ErrRateLimit, Status: 429, Message: "slow down", InStream: true}
	_, evs, err := relay(t, &events{evs: []llm.Event{{Kind: llm.EventStart}, {Kind: llm.EventText, Text: "a"}}, err: upErr}, &Options{Model: "m"})
	last := evs[len(evs)-1]
	if !errors.Is(err, upErr) || last.Event != "response.failed" || !strings.Contains(last.Data, `"error":{"code":"rate_limit_exceeded","message":"openai: slow down"}`) ||
		!strings.Contains(last.Data, `"status":"failed"`) {
		t.Fatalf("%v %s", err, last.Data)
	}
	// A gateway error renders through the same writer.
	rec = httptest.NewRecorder()
	WriteError(rec, polydev.Errorf(polydev.EINVALID, "input: required"))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), `"type":"invalid_request_error"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
