package gemini

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/internal/testkit"
)

func TestAppendResponse(t *testing.T) {
	t.Parallel()
	resp := &llm.Response{ID: "r1", Model: "gpt-4o", StopReason: llm.StopToolUse,
		Content: []llm.Part{llm.TextPart("hi"), {Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "c1", Name: "f", Arguments: json.RawMessage(`{broken`)}}},
		Usage:   llm.Usage{InputTokens: 100, CacheReadTokens: 60, OutputTokens: 30, ReasoningTokens: 12}}
	want := `{"candidates":[{"content":{"parts":[{"text":"hi"},{"functionCall":{"id":"c1","name":"f","args":{}}}],"role":"model"},"finishReason":"STOP","index":0}],` +
		`"usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":18,"totalTokenCount":130,"cachedContentTokenCount":60,"thoughtsTokenCount":12},` +
		`"modelVersion":"gpt-4o","responseId":"r1"}`
	if got := string(AppendResponse(nil, resp)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for in, want := range map[llm.StopReason]string{llm.StopEndTurn: "STOP", llm.StopMaxTokens: "MAX_TOKENS", llm.StopToolUse: "STOP",
		llm.StopSequence: "STOP", llm.StopContentFilter: "SAFETY", llm.StopError: "OTHER"} {
		if got := FinishReason(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		name   string
	}{
		{polydev.Errorf(polydev.EINVALID, "bad"), 400, "INVALID_ARGUMENT"},
		{polydev.Errorf(polydev.EUNAUTHORIZED, "who"), 401, "UNAUTHENTICATED"},
		{polydev.Errorf(polydev.EFORBIDDEN, "no"), 403, "PERMISSION_DENIED"},
		{polydev.Errorf(polydev.ENOTFOUND, "no"), 404, "NOT_FOUND"},
		{polydev.Errorf(polydev.EPAYMENT, "pay"), 402, "FAILED_PRECONDITION"},
		{polydev.Errorf(polydev.ERATELIMIT, "slow down"), 429, "RESOURCE_EXHAUSTED"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrOverloaded, Status: 503, Message: "busy"}, 503, "UNAVAILABLE"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrAuth, Status: 401, Message: "key"}, 502, "INTERNAL"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrTimeout, Message: "slow"}, 504, "DEADLINE_EXCEEDED"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		WriteError(rec, c.err)
		var body struct {
			Error struct {
				Code    int
				Message string
				Status  string
			}
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.status || body.Error.Code != c.status || body.Error.Status != c.name || body.Error.Message == "" {
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
		if f.err == nil {
			return llm.Event{}, io.EOF
		}
		return llm.Event{}, f.err
	}
	ev := f.evs[0]
	f.evs = f.evs[1:]
	return ev, nil
}
func (f *fakeStream) Usage() llm.Usage { return llm.Usage{} }
func (f *fakeStream) Close() error     { return nil }

func streamEvents() []llm.Event {
	return []llm.Event{
		{Kind: llm.EventStart, ID: "r1", Model: "m", Usage: llm.Usage{InputTokens: 9}},
		{Kind: llm.EventText, Text: "a"},
		{Kind: llm.EventToolStart, Index: 0, ID: "c0", Name: "f"},
		{Kind: llm.EventToolDelta, Index: 0, Text: `{"x":`},
		{Kind: llm.EventToolDelta, Index: 0, Text: `1}`},
		{Kind: llm.EventToolEnd, Index: 0},
		{Kind: llm.EventText, Text: "b"},
		{Kind: llm.EventToolStart, Index: 1, ID: "c1", Name: "g"},
		{Kind: llm.EventToolDelta, Index: 1, Text: `{}`},
	}
}

type chunk struct {
	Candidates []struct {
		Content struct {
			Parts []struct {
				Text         *string
				FunctionCall *struct {
					ID, Name string
					Args     map[string]any
				}
			}
			Role string
		}
		FinishReason string
	}
	UsageMetadata *struct {
		PromptTokenCount, CandidatesTokenCount, TotalTokenCount, ThoughtsTokenCount int
	}
	ModelVersion, ResponseID string
	Error                    *struct {
		Code    int
		Status  string
		Message string
	}
}

// summary reads a chunk sequence back as one line per chunk.
func summary(t *testing.T, chunks []chunk) string {
	t.Helper()
	var out []string
	for _, c := range chunks {
		var s []string
		if c.Error != nil {
			out = append(out, "error "+c.Error.Status+" "+c.Error.Message)
			continue
		}
		if c.ModelVersion != "m" || c.ResponseID != "r1" || len(c.Candidates) != 1 || c.Candidates[0].Content.Role != "model" {
			t.Errorf("chunk %+v", c)
		}
		for _, p := range c.Candidates[0].Content.Parts {
			switch {
			case p.FunctionCall != nil:
				a, _ := json.Marshal(p.FunctionCall.Args)
				s = append(s, "call "+p.FunctionCall.ID+" "+p.FunctionCall.Name+string(a))
			case p.Text != nil:
				s = append(s, "text "+*p.Text)
			}
		}
		if f := c.Candidates[0].FinishReason; f != "" {
			s = append(s, "finish "+f)
		}
		if u := c.UsageMetadata; u != nil {
			j, _ := json.Marshal(u)
			s = append(s, string(j))
		}
		out = append(out, strings.Join(s, ", "))
	}
	return strings.Join(out, "\n")
}

// TestStreamSSEAndArray: the same events give the same chunks in both framings; a call whose
// end never came goes out with the last chunk.
func TestStreamSSEAndArray(t *testing.T) {
	t.Parallel()
	stop := llm.Event{Kind: llm.EventStop, Stop: llm.StopToolUse, Usage: llm.Usage{InputTokens: 9, OutputTokens: 20, ReasoningTokens: 5}}
	want := "text a\ncall c0 f{\"x\":1}\ntext b\ncall c1 g{}, finish STOP, " +
		`{"PromptTokenCount":9,"CandidatesTokenCount":15,"TotalTokenCount":29,"ThoughtsTokenCount":5}`

	rec := httptest.NewRecorder()
	usage, err := RelayHeartbeat(rec, &fakeStream{evs: append(streamEvents(), stop)}, true, 0)
	if err != nil || usage != (llm.Usage{}) { // the fake's usage: what a relay bills comes from the stream
		t.Fatalf("relay: %v %+v", err, usage)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("SSE content type %q", ct)
	}
	if !strings.HasPrefix(rec.Body.String(), "data: {") || !strings.HasSuffix(rec.Body.String(), "}\r\n\r\n") {
		t.Errorf("SSE framing: %q", rec.Body)
	}
	events, err := testkit.ParseSSE(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var sseChunks []chunk
	for _, e := range events {
		var c chunk
		if err := json.Unmarshal([]byte(e.Data), &c); err != nil {
			t.Fatalf("event %q: %v", e.Data, err)
		}
		sseChunks = append(sseChunks, c)
	}
	if got := summary(t, sseChunks); got != want {
		t.Errorf("SSE:\n%s\nwant\n%s", got, want)
	}

	rec = httptest.NewRecorder()
	if _, err := RelayHeartbeat(rec, &fakeStream{evs: append(streamEvents(), stop)}, false, 0); err != nil {
		t.Fatal(err)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("array content type %q", ct)
	}
	var arr []chunk
	if err := json.Unmarshal(rec.Body.Bytes(), &arr); err != nil {
		t.Fatalf("array body is not a JSON array: %v\n%s", err, rec.Body)
	}
	if got := summary(t, arr); got != want {
		t.Errorf("array:\n%s\nwant\n%s", got, want)
	}
}

// TestStreamErrors: a failure before content is a plain HTTP error; after content, a last chunk
// holding Google's error object, in either framing, still well formed.
func TestStreamErrors(t *testing.T) {
	t.Parallel()
	late := &llm.Error{Provider: "openai", Kind: llm.ErrServer, Message: "late", InStream: true}
	for _, alt := range []bool{true, false} {
		rec := httptest.NewRecorder()
		_, err := RelayHeartbeat(rec, &fakeStream{evs: streamEvents()[:1], err: &llm.Error{Provider: "openai", Kind: llm.ErrOverloaded, Status: 503, Message: "busy"}}, alt, 0)
		if err == nil || rec.Code != 503 || !strings.Contains(rec.Body.String(), `"status":"UNAVAILABLE"`) {
			t.Errorf("alt=%v early: %v %d %s", alt, err, rec.Code, rec.Body)
		}

		rec = httptest.NewRecorder()
		if _, err := RelayHeartbeat(rec, &fakeStream{evs: streamEvents()[:2], err: late}, alt, 0); err == nil {
			t.Errorf("alt=%v: no error", alt)
		}
		var chunks []chunk
		if alt {
			events, _ := testkit.ParseSSE(rec.Body.Bytes())
			for _, e := range events {
				var c chunk
				_ = json.Unmarshal([]byte(e.Data), &c)
				chunks = append(chunks, c)
			}
		} else if err := json.Unmarshal(rec.Body.Bytes(), &chunks); err != nil {
			t.Fatalf("array with error is not JSON: %v\n%s", err, rec.Body)
		}
		if got := summary(t, chunks); rec.Code != 200 || got != "text a\nerror INTERNAL openai: late" {
			t.Errorf("alt=%v late: %d\n%s", alt, rec.Code, got)
		}
	}
}

func TestWriteCountTokens(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	if err := WriteCountTokens(rec, 42); err != nil || rec.Body.String() != `{"totalTokens":42}` {
		t.Errorf("%v %q", err, rec.Body)
	}
}
