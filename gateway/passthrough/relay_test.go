package passthrough

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/sse"
)

// stubMeter completes at the event named done, drops events named drop, and fails on "error".
type stubMeter struct {
	done, drop string
	complete   bool
	events     int
	body       []byte
}

func (m *stubMeter) Event(ev sse.Event) (bool, error) {
	m.events++
	switch ev.Type {
	case m.done:
		m.complete = true
	case "error":
		return true, &llm.Error{Kind: llm.ErrOverloaded, Message: "Overloaded", InStream: true}
	}
	return ev.Type != m.drop, nil
}
func (m *stubMeter) Body(b []byte) error { m.body, m.complete = b, true; return nil }
func (m *stubMeter) Complete() bool      { return m.complete }
func (m *stubMeter) Usage() llm.Usage {
	return llm.Usage{InputTokens: 10, OutputTokens: m.events, Partial: !m.complete}
}

func answer(ct, body string) *http.Response {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {ct}, "Request-Id": {"req_1"}, "Set-Cookie": {"x=y"}},
		Body: io.NopCloser(strings.NewReader(body))}
}

func TestRelayStream(t *testing.T) {
	t.Parallel()
	stream := "event: message_start\r\ndata: {}\r\n\r\n: c\n\nevent: usage_only\ndata: {}\n\nevent: message_stop\ndata: {}\n\nevent: after\ndata: [DONE]\n\n"
	w := httptest.NewRecorder()
	m := &stubMeter{done: "message_stop", drop: "usage_only"}
	var atComplete string
	u, err := Relay(t.Context(), w, answer("text/event-stream; charset=utf-8", stream), m, Options{
		Complete:       func(llm.Usage) { atComplete = w.Body.String() },
		CompleteWaits:  true,
		ForwardHeaders: []string{"Request-Id"},
	})
	if err != nil || u.Partial {
		t.Fatalf("usage %+v err %v", u, err)
	}
	// A dropped event takes the comments just before it along (they are part of its raw bytes).
	want := strings.Replace(stream, ": c\n\nevent: usage_only\ndata: {}\n\n", "", 1)
	if w.Body.String() != want {
		t.Fatalf("client got\n%q\nwant\n%q", w.Body.String(), want)
	}
	if strings.Contains(atComplete, "message_stop") || !strings.Contains(atComplete, "message_start") {
		t.Fatalf("the record was stored after the final event went out, or before the rest was flushed: %q", atComplete)
	}
	if w.Header().Get("Request-Id") != "req_1" || w.Header().Get("Set-Cookie") != "" || w.Header().Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("headers %v", w.Header())
	}
}

func TestRelayCutStream(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	m := &stubMeter{done: "message_stop"}
	u, err := Relay(t.Context(), w, answer("text/event-stream", "event: message_start\ndata: {}\n\nevent: delta\ndata: {"), m, Options{
		Provider:   "anthropic",
		Complete:   func(llm.Usage) { t.Fatal("an incomplete stream was completed") },
		ErrorFrame: func(err error) []byte { return sse.AppendEvent(nil, "error", []byte(err.Error())) },
	})
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrNetwork || !u.Partial {
		t.Fatalf("usage %+v err %v", u, err)
	}
	if !strings.HasPrefix(w.Body.String(), "event: message_start\ndata: {}\n\nevent: error\ndata: ") || !strings.Contains(w.Body.String(), "ended before the response was complete") {
		t.Fatalf("client got %q", w.Body.String())
	}

	// An upstream error event is relayed as it came and ends the call with it.
	w = httptest.NewRecorder()
	_, err = Relay(t.Context(), w, answer("text/event-stream", "event: message_start\ndata: {}\n\nevent: error\ndata: {\"x\":1}\n\nevent: more\ndata: {}\n\n"), &stubMeter{}, Options{})
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrOverloaded || !strings.HasSuffix(w.Body.String(), "event: error\ndata: {\"x\":1}\n\n") {
		t.Fatalf("err %v, client got %q", err, w.Body.String())
	}
}

func TestRelayBody(t *testing.T) {
	t.Parallel()
	body := `{"id":"msg_1", "usage":{"input_tokens":3}}`
	w := httptest.NewRecorder()
	m := &stubMeter{}
	completed := false
	_, err := Relay(t.Context(), w, answer("application/json", body), m, Options{Complete: func(llm.Usage) { completed = w.Body.Len() == 0 }})
	if err != nil || !completed || w.Body.String() != body || string(m.body) != body || w.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("err %v completed-before-write %v body %q headers %v", err, completed, w.Body.String(), w.Header())
	}
	// Unbilled: no meter, the body as it came.
	w = httptest.NewRecorder()
	if _, err := Relay(t.Context(), w, answer("application/json", `{"input_tokens":12}`), nil, Options{}); err != nil || w.Body.String() != `{"input_tokens":12}` {
		t.Fatalf("%v %q", err, w.Body.String())
	}
	// A body that breaks off is answered with an error, nothing of it relayed.
	w = httptest.NewRecorder()
	broken := &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(io.MultiReader(strings.NewReader(`{"id"`), iotestErr{}))}
	_, err = Relay(t.Context(), w, broken, &stubMeter{}, Options{WriteError: func(w http.ResponseWriter, err error) { w.WriteHeader(502) }})
	if err == nil || w.Code != 502 || bytes.Contains(w.Body.Bytes(), []byte(`"id"`)) {
		t.Fatalf("%v %d %q", err, w.Code, w.Body.String())
	}
}

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// flushCounter counts the flushes that reach the client.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushCounter) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

// TestRelayStreamFlushBeforeComplete: what is ready goes out before a record that waits for the
// database, in a write of its own; with a record that does not wait (the journal) it goes out
// with the final events, one write fewer. The client gets the same bytes either way.
func TestRelayStreamFlushBeforeComplete(t *testing.T) {
	t.Parallel()
	stream := "event: message_start\ndata: {}\n\nevent: message_delta\ndata: {}\n\nevent: message_stop\ndata: {}\n\n"
	flushes := map[bool]int{}
	for _, waits := range []bool{true, false} {
		w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
		var atComplete int
		_, err := Relay(t.Context(), w, answer("text/event-stream", stream), &stubMeter{done: "message_stop"}, Options{
			Complete:      func(llm.Usage) { atComplete = w.flushes },
			CompleteWaits: waits,
		})
		if err != nil || w.Body.String() != stream {
			t.Fatalf("waits=%v: err %v, client got %q", waits, err, w.Body.String())
		}
		if want := map[bool]int{true: 1, false: 0}[waits]; atComplete != want {
			t.Fatalf("waits=%v: %d flushes before the record, want %d", waits, atComplete, want)
		}
		flushes[waits] = w.flushes
	}
	if flushes[true] != flushes[false]+1 {
		t.Fatalf("flushes with a waiting record %d, without %d: want exactly one more", flushes[true], flushes[false])
	}
}
