package llm

// EventKind says which fields of an Event are meaningful.
type EventKind uint8

// The stream events, in the order a stream produces them:
//
//	EventStart
//	(EventText | EventToolStart EventToolDelta* EventToolEnd)*
//	EventStop
//
// then io.EOF. Text and tool calls may interleave as the provider sends them; tool deltas carry
// the Index of their call, so calls streamed in parallel stay apart.
const (
	// EventStart opens the stream: ID and Model of the response, and Usage as far as the provider
	// reported it at the start (Anthropic and Gemini: input tokens; OpenAI: nothing yet).
	EventStart EventKind = iota + 1
	// EventText carries a text delta in Text.
	EventText
	// EventToolStart opens tool call Index (0, 1, ... in the order calls start) with its ID and
	// Name.
	EventToolStart
	// EventToolDelta carries a fragment of call Index's JSON arguments in Text. Concatenated in
	// order, the fragments are the arguments.
	EventToolDelta
	// EventToolEnd closes call Index.
	EventToolEnd
	// EventStop ends the stream: Stop, StopSequence, and the final Usage.
	EventStop
)

func (k EventKind) String() string {
	switch k {
	case EventStart:
		return "start"
	case EventText:
		return "text"
	case EventToolStart:
		return "tool_start"
	case EventToolDelta:
		return "tool_delta"
	case EventToolEnd:
		return "tool_end"
	case EventStop:
		return "stop"
	}
	return "unknown"
}

// Event is one step of a streamed generation. Only the fields documented for its Kind are set.
type Event struct {
	Kind  EventKind
	Index int    // tool call index (EventToolStart, EventToolDelta, EventToolEnd)
	Text  string // text delta (EventText) or arguments fragment (EventToolDelta)
	ID    string // response id (EventStart) or tool call id (EventToolStart)
	Name  string // tool name (EventToolStart)
	Model string // model reported by the provider (EventStart)

	Stop         StopReason // EventStop
	StopSequence string     // EventStop, when the provider reports the matched sequence
	Usage        Usage      // EventStart (as reported so far) and EventStop (final)
}

// Stream is a generation in progress. Each upstream delta becomes an event as soon as it is parsed:
// a Stream never waits for more upstream bytes than the event it returns needs.
//
// Next returns the next event, io.EOF after EventStop, or an *Error (with InStream set when the
// failure came after the upstream's 200; context cancellation is an *Error of kind ErrCanceled that
// matches context.Canceled with errors.Is). After an error Next keeps returning it.
//
// Usage returns the usage so far at any time, also after an error or Close: the provider's last
// reported numbers, completed by estimates and flagged as Partial when the stream did not finish
// (see Usage).
//
// Close releases the upstream connection; closing before the end aborts the upstream request, so
// the provider stops generating. It is idempotent. A Stream is used from one goroutine; to abort
// from another, cancel the context the stream was opened with.
type Stream interface {
	Next() (Event, error)
	Usage() Usage
	Close() error
}

// WaitNotifier is implemented by a Stream that can say when Next is about to wait: for upstream
// bytes, or for the usage record to be stored at the stop event. A relay holding its output in its
// buffer while events are at hand flushes from f, so the client never waits on bytes the gateway
// holds while the gateway itself waits: a burst of upstream events goes out in one write instead
// of one per event. f runs on the goroutine calling Next.
type WaitNotifier interface {
	NotifyWait(f func())
}
