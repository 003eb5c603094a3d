package openai

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/internal/testkit"
)

func TestFinishReason(t *testing.T) {
	t.Parallel()
	for in, want := range map[llm.StopReason]string{
		llm.StopEndTurn: "stop", llm.StopSequence: "stop", llm.StopMaxTokens: "length", llm.StopToolUse: "tool_calls",
		llm.StopContentFilter: "content_filter", llm.StopError: "stop", "": "stop",
	} {
		if got := FinishReason(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestAppendResponse(t *testing.T) {
	t.Parallel()
	resp := &llm.Response{ID: "id-1", Model: "m", StopReason: llm.StopToolUse,
		Content: []llm.Part{llm.TextPart("a \"quoted\"\n"), {Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "c1", Name: "f", Arguments: json.RawMessage(`{"x":"<y>"}`)}}},
		Usage:   llm.Usage{InputTokens: 10, OutputTokens: 5, CacheReadTokens: 4, ReasoningTokens: 2}}
	b := AppendResponse(nil, resp, 1700000000)
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	want := `{"id":"id-1","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"a \"quoted\"\n","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":\"<y>\"}"}}],"refusal":null},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":2}}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err    error
		status int
		typ    string
		code   string
	}{
		{polydev.Errorf(polydev.EINVALID, "model: required"), 400, "invalid_request_error", "invalid"},
		{polydev.Errorf(polydev.ERATELIMIT, "slow down"), 429, "rate_limit_error", "rate_limited"},
		{io.ErrUnexpectedEOF, 500, "api_error", "internal_error"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrRateLimit, Status: 429, Message: "wait", RetryAfter: 1500 * time.Millisecond}, 429, "rate_limit_error", "rate_limit_exceeded"},
		{&llm.Error{Provider: "openai", Kind: llm.ErrQuota, Status: 429, Message: "no credit"}, 429, "insufficient_quota", "insufficient_quota"},
		{&llm.Error{Provider: "anthropic", Kind: llm.ErrOverloaded, Status: 529, Message: "Overloaded"}, 503, "server_error", "upstream_overloaded"},
		{&llm.Error{Provider: "gemini", Kind: llm.ErrAuth, Status: 400, Message: "key rejected"}, 502, "server_error", "upstream_authentication"},
		{&llm.Error{Provider: "gemini", Kind: llm.ErrInvalidRequest, Status: 404, Message: "no model"}, 404, "invalid_request_error", "upstream_invalid_request"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		WriteError(rec, c.err)
		var body struct {
			Error struct{ Message, Type, Code string }
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.status || body.Error.Type != c.typ || body.Error.Code != c.code || body.Error.Message == "" {
			t.Errorf("%v: %d %+v", c.err, rec.Code, body)
		}
		if strings.Contains(rec.Body.String(), "unexpected EOF") {
			t.Error("internal error text leaked")
		}
	}
	rec := httptest.NewRecorder()
	WriteError(rec, cases[3].err)
	if rec.Header().Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q", rec.Header().Get("Retry-After"))
	}
}

// fakeStream replays events, then err (io.EOF for a clean end).
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
func (f *fakeStream) Usage() llm.Usage { return llm.Usage{InputTokens: 1, Partial: true} }
func (f *fakeStream) Close() error     { return nil }

func TestRelayErrorBeforeContent(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	s := &fakeStream{evs: []llm.Event{{Kind: llm.EventStart, ID: "x"}}, err: &llm.Error{Provider: "anthropic", Kind: llm.ErrOverloaded, Message: "Overloaded", InStream: true}}
	if _, err := Relay(rec, s, Options{}); err == nil {
		t.Fatal("no error")
	}
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"type":"server_error"`) {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}

func TestRelayErrorAfterContent(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	s := &fakeStream{evs: []llm.Event{{Kind: llm.EventStart, ID: "x"}, {Kind: llm.EventText, Text: "hi"}}, err: &llm.Error{Provider: "openai", Kind: llm.ErrServer, Message: "boom"}}
	Relay(rec, s, Options{})
	events, err := testkit.ParseSSE(rec.Body.Bytes())
	if err != nil || rec.Code != 200 || len(events) != 3 || !strings.HasPrefix(events[2].Data, `{"error":{"message":"openai: boom"`) {
		t.Errorf("%v %d %s", err, rec.Code, rec.Body)
	}
	if rec.Header().Get("Content-Type") != "text/event-stream; charset=utf-8" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Errorf("headers %v", rec.Header())
	}
}

func TestHeartbeatCommits(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	sw := NewStreamWriter(rec, Options{})
	if err := sw.Heartbeat(time.Hour); err != nil {
		t.Fatal(err)
	}
	defer sw.Stop()
	if !rec.Flushed || rec.Code != 200 {
		t.Error("heartbeat did not commit the stream")
	}
	sw.Error(&llm.Error{Provider: "x", Kind: llm.ErrServer, Message: "late"})
	if !strings.Contains(rec.Body.String(), `data: {"error"`) {
		t.Errorf("error after commit must be in-stream: %s", rec.Body)
	}
}

// flushTracker counts flushes and how much of the body they covered.
type flushTracker struct {
	*httptest.ResponseRecorder
	flushes, flushed int
}

func (f *flushTracker) Flush() {
	f.flushes++
	f.flushed = f.Body.Len()
	f.ResponseRecorder.Flush()
}

// waitStream replays events and says it waits (llm.WaitNotifier) before each event in waits and
// before its end, checking then that the client holds everything written so far.
type waitStream struct {
	fakeStream
	t      *testing.T
	w      *flushTracker
	waits  map[int]bool
	i      int
	notify func()
}

func (s *waitStream) NotifyWait(f func()) { s.notify = f }

func (s *waitStream) Next() (llm.Event, error) {
	if s.waits[s.i] || len(s.evs) == 0 {
		s.notify()
		if held := s.w.Body.Len() - s.w.flushed; held != 0 {
			s.t.Errorf("before wait %d: %d bytes written but not flushed", s.i, held)
		}
	}
	s.i++
	return s.fakeStream.Next()
}

// TestRelayFlushesBeforeWaiting: events that arrive together go out in one flush, and nothing
// written is ever left unflushed while the stream waits; a stream that cannot tell when it waits
// is flushed after every event.
func TestRelayFlushesBeforeWaiting(t *testing.T) {
	t.Parallel()
	events := func() []llm.Event {
		return []llm.Event{{Kind: llm.EventStart, ID: "x"}, {Kind: llm.EventText, Text: "a"}, {Kind: llm.EventText, Text: "b"},
			{Kind: llm.EventText, Text: "c"}, {Kind: llm.EventStop, Stop: llm.StopEndTurn}}
	}
	w := &flushTracker{ResponseRecorder: httptest.NewRecorder()}
	s := &waitStream{fakeStream: fakeStream{evs: events(), err: io.EOF}, t: t, w: w, waits: map[int]bool{0: true, 3: true}}
	if _, err := Relay(w, s, Options{}); err != nil {
		t.Fatal(err)
	}
	if w.flushed != w.Body.Len() || !strings.HasSuffix(w.Body.String(), "data: [DONE]\n\n") {
		t.Fatalf("after the relay: %d of %d bytes flushed: %q", w.flushed, w.Body.Len(), w.Body)
	}
	// Waits before the start, before "c" and before the end: the first has nothing to flush.
	if w.flushes != 2 {
		t.Errorf("%d flushes, want 2 (one per burst)", w.flushes)
	}

	plain := &flushTracker{ResponseRecorder: httptest.NewRecorder()}
	if _, err := Relay(plain, &fakeStream{evs: events(), err: io.EOF}, Options{}); err != nil {
		t.Fatal(err)
	}
	if plain.flushes != 4 || plain.flushed != plain.Body.Len() {
		t.Errorf("without notice: %d flushes (want one per written event, 4), %d of %d bytes flushed", plain.flushes, plain.flushed, plain.Body.Len())
	}
}
