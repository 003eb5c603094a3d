// Package providertest is the one test suite every provider adapter must pass, run against the
// adapter's testkit fake upstream: text and tool calls, streamed and not; usage equal to what the
// fake was scripted to report; HTTP errors, in-stream errors and malformed bytes as typed errors
// without panics or hangs; cancellation that reaches the upstream with partial usage; and no key
// in any error text. It is imported by tests only.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/internal/testkit"
)

// Config describes the adapter under test.
type Config struct {
	Provider provider.Provider
	// New starts the adapter's fake upstream.
	New   func(t testing.TB, opts ...testkit.Option) *testkit.Upstream
	Model string
	// Expect is the canonical usage the adapter must report for a script's usage.
	Expect func(testkit.Usage) llm.Usage
	// InStreamErrorKind is the kind of the fake's default in-stream error.
	InStreamErrorKind llm.ErrorKind
}

// Target points at the fake.
func Target(u *testkit.Upstream) provider.Target {
	return provider.Target{BaseURL: u.BaseURL(), APIKey: u.Key}
}

// Request is a small conversation with one tool.
func Request(model string) *llm.Request {
	temp := 0.5
	return &llm.Request{
		Model:       model,
		System:      "You are terse.",
		Messages:    []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("What is the weather in Paris?")}}},
		Tools:       []llm.Tool{{Name: "get_weather", Description: "Current weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}`)}},
		MaxTokens:   256,
		Temperature: &temp,
	}
}

// Collected is a stream read to its end.
type Collected struct {
	Events []llm.Event
	Text   string
	Calls  []llm.ToolCall
	Stop   llm.StopReason
	Usage  llm.Usage // from the stop event
	Err    error
}

// Collect reads s until io.EOF or an error (at most 10000 events), checking the event order.
func Collect(t testing.TB, s llm.Stream) Collected {
	t.Helper()
	var c Collected
	for range 10000 {
		ev, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			c.Err = err
			break
		}
		c.Events = append(c.Events, ev)
	}
	if err := CheckSequence(c.Events, c.Err == nil); err != nil {
		t.Errorf("event sequence: %v", err)
	}
	args := map[int]*strings.Builder{}
	for _, ev := range c.Events {
		switch ev.Kind {
		case llm.EventText:
			c.Text += ev.Text
		case llm.EventToolStart:
			c.Calls = append(c.Calls, llm.ToolCall{ID: ev.ID, Name: ev.Name})
			args[ev.Index] = &strings.Builder{}
		case llm.EventToolDelta:
			args[ev.Index].WriteString(ev.Text)
		case llm.EventToolEnd:
			c.Calls[ev.Index].Arguments = json.RawMessage(args[ev.Index].String())
		case llm.EventStop:
			c.Stop, c.Usage = ev.Stop, ev.Usage
		}
	}
	return c
}

// CheckSequence verifies the llm.Stream grammar: Start first, tool deltas only inside their call,
// calls numbered 0, 1, ..., Stop last (when complete) with no call left open.
func CheckSequence(evs []llm.Event, complete bool) error {
	open := map[int]bool{}
	next := 0
	for i, ev := range evs {
		if (i == 0) != (ev.Kind == llm.EventStart) {
			return errors.New("start must come first, and only first")
		}
		switch ev.Kind {
		case llm.EventToolStart:
			if ev.Index != next {
				return errors.New("tool calls must be numbered in order")
			}
			next++
			open[ev.Index] = true
		case llm.EventToolDelta:
			if !open[ev.Index] {
				return errors.New("tool delta outside its call")
			}
		case llm.EventToolEnd:
			if !open[ev.Index] {
				return errors.New("tool end without start")
			}
			delete(open, ev.Index)
		case llm.EventStop:
			if i != len(evs)-1 {
				return errors.New("events after stop")
			}
			if len(open) > 0 {
				return errors.New("stop with a tool call open")
			}
		case llm.EventStart, llm.EventText:
		default:
			return errors.New("unknown event kind")
		}
	}
	if complete && (len(evs) == 0 || evs[len(evs)-1].Kind != llm.EventStop) {
		return errors.New("a complete stream must end with stop")
	}
	return nil
}

// JSONEqual compares two JSON texts by value.
func JSONEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Run runs the suite.
func Run(t *testing.T, c Config) {
	t.Run("Text", func(t *testing.T) { t.Parallel(); testText(t, c) })
	t.Run("ToolCalls", func(t *testing.T) { t.Parallel(); testToolCalls(t, c) })
	t.Run("HTTPErrors", func(t *testing.T) { t.Parallel(); testHTTPErrors(t, c) })
	t.Run("BadKey", func(t *testing.T) { t.Parallel(); testBadKey(t, c) })
	t.Run("StreamError", func(t *testing.T) { t.Parallel(); testStreamError(t, c) })
	t.Run("Malformed", func(t *testing.T) { t.Parallel(); testMalformed(t, c) })
	t.Run("Cancel", func(t *testing.T) { t.Parallel(); testCancel(t, c) })
	t.Run("CloseEarly", func(t *testing.T) { t.Parallel(); testCloseEarly(t, c) })
	t.Run("CancelBeforeFirstByte", func(t *testing.T) { t.Parallel(); testCancelBeforeFirstByte(t, c) })
	t.Run("Unreachable", func(t *testing.T) { t.Parallel(); testUnreachable(t, c) })
	t.Run("Models", func(t *testing.T) { t.Parallel(); testModels(t, c) })
}

func testText(t *testing.T, c Config) {
	u := c.New(t)
	want := c.Expect(testkit.DefaultUsage)
	resp, err := c.Provider.Do(t.Context(), u.Client(), Target(u), Request(c.Model))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != testkit.DefaultText || resp.StopReason != llm.StopEndTurn || resp.Usage != want {
		t.Errorf("Do: text %q stop %q usage %+v, want usage %+v", resp.Text(), resp.StopReason, resp.Usage, want)
	}
	s, err := c.Provider.Stream(t.Context(), u.Client(), Target(u), Request(c.Model))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := Collect(t, s)
	if got.Err != nil || got.Text != testkit.DefaultText || got.Stop != llm.StopEndTurn || got.Usage != want {
		t.Errorf("Stream: err %v text %q stop %q usage %+v, want %+v", got.Err, got.Text, got.Stop, got.Usage, want)
	}
	if n := countKind(got.Events, llm.EventText); n != len(strings.Fields(testkit.DefaultText)) {
		t.Errorf("got %d text events, want one per upstream delta", n)
	}
	if s.Usage() != want {
		t.Errorf("Stream.Usage() = %+v after the end, want %+v", s.Usage(), want)
	}
	// A finished stream was read to its end, so its connection goes back to the pool.
	if d, ok := s.(interface{ Drained() bool }); !ok || !d.Drained() {
		t.Error("the body was not read to its end")
	}
}

func countKind(evs []llm.Event, k llm.EventKind) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

func testToolCalls(t *testing.T, c Config) {
	script := testkit.Script{
		Text: "Let me check.",
		ToolCalls: []testkit.ToolCall{
			{Name: "get_weather", Arguments: `{"location":"Paris, France","unit":"celsius"}`, Fragments: 3},
			{Name: "get_time", Arguments: `{"tz":"Europe/Paris"}`},
		},
		Usage: testkit.Usage{PromptTokens: 900, CompletionTokens: 70, CachedTokens: 512, CacheWriteTokens: 100, ReasoningTokens: 20},
	}
	u := c.New(t, testkit.WithScript(script))
	want := c.Expect(script.Usage)
	check := func(mode string, text string, calls []llm.ToolCall, stop llm.StopReason, usage llm.Usage) {
		t.Helper()
		if text != script.Text || stop != llm.StopToolUse || usage != want {
			t.Errorf("%s: text %q stop %q usage %+v, want %+v", mode, text, stop, usage, want)
		}
		if len(calls) != len(script.ToolCalls) {
			t.Fatalf("%s: %d calls, want %d", mode, len(calls), len(script.ToolCalls))
		}
		ids := map[string]bool{}
		for i, tc := range calls {
			w := script.ToolCalls[i]
			if tc.Name != w.Name || !JSONEqual(string(tc.Arguments), w.Arguments) || tc.ID == "" || ids[tc.ID] {
				t.Errorf("%s: call %d = %s %s (id %q), want %s %s", mode, i, tc.Name, tc.Arguments, tc.ID, w.Name, w.Arguments)
			}
			ids[tc.ID] = true
		}
	}
	resp, err := c.Provider.Do(t.Context(), u.Client(), Target(u), Request(c.Model))
	if err != nil {
		t.Fatal(err)
	}
	var calls []llm.ToolCall
	for _, tc := range resp.ToolCalls() {
		calls = append(calls, *tc)
	}
	check("Do", resp.Text(), calls, resp.StopReason, resp.Usage)

	s, err := c.Provider.Stream(t.Context(), u.Client(), Target(u), Request(c.Model))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := Collect(t, s)
	if got.Err != nil {
		t.Fatal(got.Err)
	}
	check("Stream", got.Text, got.Calls, got.Stop, got.Usage)
}

func testHTTPErrors(t *testing.T, c Config) {
	cases := []struct {
		status    int
		kind      llm.ErrorKind
		retryable bool
	}{
		{400, llm.ErrInvalidRequest, false},
		{401, llm.ErrAuth, false},
		{403, llm.ErrPermission, false},
		{404, llm.ErrInvalidRequest, false},
		{429, llm.ErrRateLimit, true},
		{500, llm.ErrServer, true},
		{503, llm.ErrOverloaded, true},
		{529, llm.ErrOverloaded, true},
	}
	for _, tc := range cases {
		u := c.New(t, testkit.WithScript(testkit.ErrorScript(tc.status)))
		for _, stream := range []bool{false, true} {
			var err error
			if stream {
				_, err = c.Provider.Stream(t.Context(), u.Client(), Target(u), Request(c.Model))
			} else {
				_, err = c.Provider.Do(t.Context(), u.Client(), Target(u), Request(c.Model))
			}
			e, ok := llm.AsError(err)
			if !ok {
				t.Errorf("%d stream=%v: %v is not an *llm.Error", tc.status, stream, err)
				continue
			}
			if e.Status != tc.status || e.Kind != tc.kind || e.Retryable != tc.retryable || e.InStream || e.Message == "" || e.Provider != c.Provider.Name() {
				t.Errorf("%d stream=%v: got %+v", tc.status, stream, e)
			}
			if strings.Contains(e.Error(), u.Key) {
				t.Errorf("%d: key in error %q", tc.status, e.Error())
			}
		}
	}
	// Retry-After travels.
	u := c.New(t, testkit.WithScript(testkit.Script{Error: &testkit.ErrorReply{Status: 429, Header: http.Header{"Retry-After": {"7"}}}}))
	_, err := c.Provider.Do(t.Context(), u.Client(), Target(u), Request(c.Model))
	if e, ok := llm.AsError(err); !ok || e.RetryAfter != 7*time.Second || e.HTTPStatus() != 429 {
		t.Errorf("Retry-After: %+v", err)
	}
	// A body that is not the provider's shape still gives a typed error.
	u = c.New(t, testkit.WithScript(testkit.Script{Error: &testkit.ErrorReply{Status: 502, Body: []byte("<html>bad gateway</html>")}}))
	_, err = c.Provider.Do(t.Context(), u.Client(), Target(u), Request(c.Model))
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrServer || !e.Retryable || e.Message == "" || e.HTTPStatus() != 502 {
		t.Errorf("raw body: %+v", err)
	}
}

func testBadKey(t *testing.T, c Config) {
	u := c.New(t)
	secret := "sk-secret-" + strings.Repeat("Z", 30) + "-tail"
	for _, stream := range []bool{false, true} {
		var err error
		target := provider.Target{BaseURL: u.BaseURL(), APIKey: secret}
		if stream {
			_, err = c.Provider.Stream(t.Context(), u.Client(), target, Request(c.Model))
		} else {
			_, err = c.Provider.Do(t.Context(), u.Client(), target, Request(c.Model))
		}
		e, ok := llm.AsError(err)
		if !ok || e.Kind != llm.ErrAuth || e.Retryable || !e.Failover() || e.HTTPStatus() != http.StatusBadGateway {
			t.Fatalf("bad key: %+v", err)
		}
		for _, leak := range []string{secret, secret[:8], secret[len(secret)-4:], "ZZZZ", "**"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("error text %q contains %q", err.Error(), leak)
			}
		}
		if got := u.LastRequest().Key; got != secret {
			t.Errorf("upstream saw key %q", got)
		}
		if strings.Contains(u.LastRequest().RawQuery, secret) || strings.Contains(u.LastRequest().Path, secret) {
			t.Error("key in the URL")
		}
	}
}

func testStreamError(t *testing.T, c Config) {
	u := c.New(t, testkit.WithScript(testkit.Script{Text: "a b c d e f", StreamError: &testkit.StreamError{AfterDeltas: 2}, Usage: testkit.DefaultUsage}))
	s, err := c.Provider.Stream(t.Context(), u.Client(), Target(u), Request(c.Model))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := Collect(t, s)
	e, ok := llm.AsError(got.Err)
	if !ok || !e.InStream || e.Kind != c.InStreamErrorKind || e.Retryable || got.Text != "a b " {
		t.Fatalf("got text %q err %+v, want kind %s after two deltas", got.Text, got.Err, c.InStreamErrorKind)
	}
	if _, err := s.Next(); err != got.Err {
		t.Errorf("error not sticky: %v", err)
	}
	us := s.Usage()
	if !us.Partial || !us.OutputEstimated || us.OutputTokens < 1 {
		t.Errorf("partial usage %+v", us)
	}
	// Before any content, the same failure is retryable (a router may fail over).
	u.SetScript(testkit.Script{Text: "a b", StreamError: &testkit.StreamError{AfterDeltas: 0}})
	s2, err := c.Provider.Stream(t.Context(), u.Client(), Target(u), Request(c.Model))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got = Collect(t, s2)
	if e, ok := llm.AsError(got.Err); !ok || e.Retryable != (e.Kind != llm.ErrInvalidRequest) || got.Text != "" {
		t.Errorf("error before content: %+v", got.Err)
	}
}

func testMalformed(t *testing.T, c Config) {
	u := c.New(t, testkit.WithQueue(
		testkit.Script{Text: "a b c", Malformed: &testkit.Malformed{AfterDeltas: 1}},
		testkit.Script{Text: "a b c", Malformed: &testkit.Malformed{AfterDeltas: 2, Abort: true}},
		testkit.Script{Text: "a b c", Malformed: &testkit.Malformed{AfterDeltas: 1, Bytes: []byte("data: {\"oops\n\n"), Abort: true}},
		testkit.Script{Text: "a b c", Malformed: &testkit.Malformed{Abort: true}},
		testkit.Script{Text: "a b c", Malformed: &testkit.Malformed{}},
	))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		s, err := c.Provider.Stream(ctx, u.Client(), Target(u), Request(c.Model))
		if err != nil {
			t.Fatal(err)
		}
		got := Collect(t, s)
		s.Close()
		e, ok := llm.AsError(got.Err)
		if !ok || !e.InStream || (e.Kind != llm.ErrMalformed && e.Kind != llm.ErrNetwork) || e.Retryable || ctx.Err() != nil {
			t.Errorf("stream %d: %+v (text %q)", i, got.Err, got.Text)
		}
		if !s.Usage().Partial {
			t.Errorf("stream %d: usage %+v not partial", i, s.Usage())
		}
	}
	for i := range 2 {
		_, err := c.Provider.Do(ctx, u.Client(), Target(u), Request(c.Model))
		if e, ok := llm.AsError(err); !ok || (e.Kind != llm.ErrMalformed && e.Kind != llm.ErrNetwork) {
			t.Errorf("Do %d: %+v", i, err)
		}
	}
}

// slowScript streams n words with a token delay, so a test can act mid-stream.
func slowScript(n int) testkit.Script {
	words := make([]string, n)
	for i := range words {
		words[i] = "word"
	}
	return testkit.Script{Text: strings.Join(words, " "), Usage: testkit.DefaultUsage, TokenDelay: 5 * time.Millisecond}
}

func testCancel(t *testing.T, c Config) {
	gone := make(chan testkit.Disconnect, 1)
	u := c.New(t, testkit.WithScript(slowScript(400)), testkit.WithOnDisconnect(func(d testkit.Disconnect) { gone <- d }))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, err := c.Provider.Stream(ctx, u.Client(), Target(u), Request(c.Model))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	texts := 0
	for texts < 3 {
		ev, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == llm.EventText {
			texts++
		}
	}
	cancel()
	start := time.Now()
	var nextErr error
	for range 1000 {
		if _, nextErr = s.Next(); nextErr != nil {
			break
		}
	}
	if !errors.Is(nextErr, context.Canceled) {
		t.Fatalf("after cancel: %v", nextErr)
	}
	if e, ok := llm.AsError(nextErr); !ok || e.Kind != llm.ErrCanceled || e.HTTPStatus() != 499 || e.Failover() {
		t.Errorf("cancel error %+v", nextErr)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v", d)
	}
	select {
	case d := <-gone:
		if !d.Stream || d.DeltasSent < 3 || d.DeltasSent >= 400 {
			t.Errorf("disconnect %+v", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream never saw the disconnect")
	}
	us := s.Usage()
	if !us.Partial || !us.OutputEstimated || us.OutputTokens < 3 {
		t.Errorf("partial usage %+v", us)
	}
}

func testCloseEarly(t *testing.T, c Config) {
	gone := make(chan testkit.Disconnect, 1)
	u := c.New(t, testkit.WithScript(slowScript(400)), testkit.WithOnDisconnect(func(d testkit.Disconnect) { gone <- d }))
	s, err := c.Provider.Stream(t.Context(), u.Client(), Target(u), Request(c.Model))
	if err != nil {
		t.Fatal(err)
	}
	for texts := 0; texts < 2; {
		ev, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == llm.EventText {
			texts++
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(); err == nil || err == io.EOF {
		t.Errorf("Next after Close: %v", err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream never saw the close")
	}
	if us := s.Usage(); !us.Partial || us.OutputTokens < 2 {
		t.Errorf("usage after close %+v", us)
	}
	_ = s.Close() // idempotent
}

func testCancelBeforeFirstByte(t *testing.T, c Config) {
	arrived := make(chan struct{}, 1)
	u := c.New(t, testkit.WithFirstByteLatency(time.Hour), testkit.WithOnRequest(func(testkit.Request) { arrived <- struct{}{} }))
	for _, stream := range []bool{false, true} {
		ctx, cancel := context.WithCancel(t.Context())
		go func() { <-arrived; cancel() }()
		var err error
		if stream {
			_, err = c.Provider.Stream(ctx, u.Client(), Target(u), Request(c.Model))
		} else {
			_, err = c.Provider.Do(ctx, u.Client(), Target(u), Request(c.Model))
		}
		if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrCanceled || !errors.Is(err, context.Canceled) {
			t.Errorf("stream=%v: %+v", stream, err)
		}
		cancel()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	go func() { <-arrived }()
	_, err := c.Provider.Do(ctx, u.Client(), Target(u), Request(c.Model))
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrTimeout {
		t.Errorf("deadline: %+v", err)
	}
}

func testUnreachable(t *testing.T, c Config) {
	u := c.New(t)
	target := Target(u)
	u.Close()
	_, err := c.Provider.Stream(t.Context(), &http.Client{}, target, Request(c.Model))
	e, ok := llm.AsError(err)
	if !ok || e.Kind != llm.ErrNetwork || !e.Retryable || e.InStream || strings.Contains(e.Error(), u.Key) {
		t.Errorf("unreachable: %+v", err)
	}
}

func testModels(t *testing.T, c Config) {
	u := c.New(t, testkit.WithModels("model-a", "model-b"))
	models, err := c.Provider.Models(t.Context(), u.Client(), Target(u))
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 2 || models[0].ID != "model-a" || models[1].ID != "model-b" || models[0].Provider != c.Provider.Name() {
		t.Errorf("models %+v", models)
	}
	_, err = c.Provider.Models(t.Context(), u.Client(), provider.Target{BaseURL: u.BaseURL(), APIKey: "wrong-key-123456789"})
	if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrAuth {
		t.Errorf("models with a bad key: %+v", err)
	}
}

// Conversation is a multi-turn request exercising every part kind, for wire-format tests.
func Conversation(model string) *llm.Request {
	temp, topP := 1.5, 0.9
	return &llm.Request{
		Model:  model,
		System: "Be brief.",
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Weather here?"), {Kind: llm.PartImage, Image: &llm.Image{MediaType: "image/png", Data: "iVBORw0KGgo="}}}},
			{Role: llm.RoleAssistant, Content: []llm.Part{llm.TextPart("Checking."), {Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "get_weather", Arguments: json.RawMessage(`{"location":"Paris"}`)}}}},
			{Role: llm.RoleTool, Content: []llm.Part{{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "call_1", Content: []llm.Part{llm.TextPart("18C, sunny")}}}}},
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Thanks")}},
		},
		Tools:       []llm.Tool{{Name: "get_weather", Description: "Current weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}}}`)}},
		ToolChoice:  llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "get_weather"},
		Temperature: &temp,
		TopP:        &topP,
		Stop:        []string{"END"},
		User:        "user-42",
	}
}

// Body runs fn against a fake and returns the JSON body the fake received.
func Body(t *testing.T, u *testkit.Upstream, fn func() error) testkit.Request {
	t.Helper()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	return u.LastRequest()
}

// AssertJSON fails unless got is JSON equal to want.
func AssertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	if !JSONEqual(string(got), want) {
		t.Errorf("JSON mismatch\n got: %s\nwant: %s", got, want)
	}
}

// FuzzDecoder runs an adapter's stream decoder over arbitrary bytes: it must end (EOF or a typed
// error) without panicking, keep the event grammar, and report sane usage.
func FuzzDecoder(t *testing.T, s llm.Stream) {
	var evs []llm.Event
	var err error
	for range 100000 {
		var ev llm.Event
		ev, err = s.Next()
		if err != nil {
			break
		}
		evs = append(evs, ev)
	}
	if err == nil {
		t.Fatal("stream did not end")
	}
	if err != io.EOF {
		if _, ok := llm.AsError(err); !ok {
			t.Fatalf("untyped error %T %v", err, err)
		}
	}
	if cerr := CheckSequence(evs, err == io.EOF); cerr != nil {
		t.Fatalf("grammar: %v", cerr)
	}
	u := s.Usage()
	if u.InputTokens < 0 || u.OutputTokens < 0 || (err != io.EOF && !u.Partial) {
		t.Fatalf("usage %+v after %v", u, err)
	}
	_ = s.Close()
}
