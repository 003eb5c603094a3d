package upstream

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/sse"
)

// Decoder is a provider's stream format: it turns SSE events into canonical events through the
// Stream's emit methods.
type Decoder interface {
	// Event handles one SSE event. A returned error (an *llm.Error for the provider's in-stream
	// error events, anything else for unparsable data) ends the stream.
	Event(s *Stream, ev sse.Event) error
	// End is called when the body ends cleanly (io.EOF) before Finish was called. It finishes the
	// stream if the format allows ending this way (Gemini), or returns an error for a truncated
	// stream.
	End(s *Stream) error
}

// Stream implements llm.Stream over an SSE body. Decoders emit into a small queue that Next drains
// before reading further, so each upstream event is translated as soon as it arrives and no more
// is read than needed.
type Stream struct {
	provider string
	key      string // redacted from in-stream error messages
	ctx      context.Context
	body     io.ReadCloser
	r        *sse.Reader
	dec      Decoder
	onWait   func() // see NotifyWait

	queue []llm.Event
	head  int
	err   error // sticky: io.EOF after the stop event, or the failure
	done  bool  // the stop event was queued
	// drained: the body was read to its end after the stop event (so the connection is reused).
	drained bool
	closed  bool

	// Accounting, maintained by the emit methods and the decoder.
	usage       llm.Usage // as reported by the provider
	inputKnown  bool
	outputKnown bool
	produced    int // bytes of text and tool arguments emitted
	reqBytes    int
	content     bool // a content or stop event was returned to the consumer
}

// NewStream wraps an open 200 response of call. requestBytes is the size of the body sent
// upstream, for estimating input tokens the provider never reports.
func NewStream(ctx context.Context, call Call, resp *http.Response, dec Decoder, requestBytes int) *Stream {
	return NewBodyStream(ctx, call, resp.Body, dec, requestBytes)
}

// NewBodyStream is NewStream over any body, for fuzzing and benchmarks.
func NewBodyStream(ctx context.Context, call Call, body io.ReadCloser, dec Decoder, requestBytes int) *Stream {
	s := &Stream{
		provider: call.Provider, key: call.Key, ctx: ctx, body: body, dec: dec, reqBytes: requestBytes,
		queue: make([]llm.Event, 0, 4),
	}
	s.r = sse.NewReader(waitReader{s}, MaxEventSize)
	return s
}

// NotifyWait implements llm.WaitNotifier: f runs before every read of the body, which may wait for
// the network. The SSE reader reads only when no complete line is left in its buffer, and a read
// returns whatever the connection has buffered (net/http's chunked reader goes on across chunks
// whose headers are already there), so the events of one upstream burst are parsed from one read and
// leave in one flush, and nothing written waits in a buffer while the relay waits for more.
func (s *Stream) NotifyWait(f func()) { s.onWait = f }

// waitReader reads the body, telling the consumer first that the read may wait.
type waitReader struct{ s *Stream }

func (w waitReader) Read(p []byte) (int, error) {
	if w.s.onWait != nil {
		w.s.onWait()
	}
	return w.s.body.Read(p)
}

// Next implements llm.Stream.
func (s *Stream) Next() (llm.Event, error) {
	for {
		if s.head < len(s.queue) {
			ev := s.queue[s.head]
			s.queue[s.head] = llm.Event{}
			s.head++
			if ev.Kind != llm.EventStart {
				s.content = true
			}
			return ev, nil
		}
		s.queue, s.head = s.queue[:0], 0
		if s.err != nil {
			return llm.Event{}, s.err
		}
		if s.done {
			s.drain()
			s.err = io.EOF
			continue
		}
		ev, err := s.r.Next()
		if err != nil {
			s.fail(s.readError(err))
			continue
		}
		if err := s.dec.Event(s, ev); err != nil {
			s.fail(s.decodeError(err))
		}
	}
}

// drain reads what little follows the provider's final event (its end marker, the chunked
// terminator) so that the connection goes back to the pool instead of being torn down.
func (s *Stream) drain() {
	for range 4 {
		if _, err := s.r.Next(); err != nil {
			s.drained = err == io.EOF
			return
		}
	}
}

func (s *Stream) readError(err error) error {
	switch {
	case err == io.EOF:
		if err := s.dec.End(s); err != nil {
			return err
		}
		if !s.done {
			return s.truncated(nil)
		}
		return nil
	case s.ctx.Err() != nil:
		return llm.Canceled(s.ctx, s.provider, true)
	case errors.Is(err, sse.ErrEventTooLarge):
		return Malformed(s.provider, true, err)
	case err == io.ErrUnexpectedEOF:
		return s.truncated(err)
	}
	return Call{Provider: s.provider}.transportError(s.ctx, err, true)
}

func (s *Stream) truncated(cause error) *llm.Error {
	return &llm.Error{Provider: s.provider, Kind: llm.ErrNetwork, Message: "the provider's stream ended before the response was complete", InStream: true, Retryable: true, Cause: cause}
}

func (s *Stream) decodeError(err error) error {
	if e, ok := llm.AsError(err); ok {
		return e
	}
	return Malformed(s.provider, true, err)
}

// fail records a terminal error (nil: none, as when End finished the stream).
func (s *Stream) fail(err error) {
	if err == nil {
		return
	}
	if e, ok := llm.AsError(err); ok {
		e.InStream = true
		if e.Provider == "" {
			e.Provider = s.provider
		}
		Call{Provider: s.provider, Key: s.key}.finishMessage(e)
		// Once content reached (or is queued for) the consumer, a retry would repeat it.
		e.Retryable = e.Retryable && !s.content && !s.queuedContent()
	}
	s.err = err
}

func (s *Stream) queuedContent() bool {
	for _, ev := range s.queue[s.head:] {
		if ev.Kind != llm.EventStart {
			return true
		}
	}
	return false
}

// Usage implements llm.Stream.
func (s *Stream) Usage() llm.Usage {
	u := s.usage
	if !s.done {
		u.Partial = true
	}
	FinishUsage(&u, s.inputKnown, s.outputKnown, s.reqBytes, s.produced)
	return u
}

// Close implements llm.Stream.
func (s *Stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.err == nil {
		s.err = llm.Canceled(context.Background(), s.provider, true)
		s.err.(*llm.Error).Message = "the stream was closed"
	}
	return s.body.Close()
}

// Emit methods, for decoders.

// Start queues the start event with the usage the provider reported so far (no estimates: a
// number not reported yet is 0).
func (s *Stream) Start(id, model string) {
	u := s.usage
	u.Partial = true
	s.queue = append(s.queue, llm.Event{Kind: llm.EventStart, ID: id, Model: model, Usage: u})
}

// Text queues a text delta.
func (s *Stream) Text(t string) {
	if t == "" {
		return
	}
	s.produced += len(t)
	s.queue = append(s.queue, llm.Event{Kind: llm.EventText, Text: t})
}

// ToolStart queues the start of tool call index.
func (s *Stream) ToolStart(index int, id, name string) {
	s.produced += len(name)
	s.queue = append(s.queue, llm.Event{Kind: llm.EventToolStart, Index: index, ID: id, Name: name})
}

// ToolDelta queues an arguments fragment of call index.
func (s *Stream) ToolDelta(index int, args string) {
	if args == "" {
		return
	}
	s.produced += len(args)
	s.queue = append(s.queue, llm.Event{Kind: llm.EventToolDelta, Index: index, Text: args})
}

// ToolEnd queues the end of call index.
func (s *Stream) ToolEnd(index int) {
	s.queue = append(s.queue, llm.Event{Kind: llm.EventToolEnd, Index: index})
}

// Finish queues the stop event with the final usage. Nothing is read after it but the body's end.
func (s *Stream) Finish(reason llm.StopReason, seq string) {
	if s.done {
		return
	}
	s.done = true
	s.queue = append(s.queue, llm.Event{Kind: llm.EventStop, Stop: reason, StopSequence: seq, Usage: s.Usage()})
}

// Done reports whether Finish was called.
func (s *Stream) Done() bool { return s.done }

// Reported gives decoders the provider-reported usage to update.
func (s *Stream) Reported() *llm.Usage { return &s.usage }

// SetInputKnown records that the provider reported the input side.
func (s *Stream) SetInputKnown() { s.inputKnown = true }

// SetOutputKnown records that the provider's output count covers everything produced so far.
func (s *Stream) SetOutputKnown(known bool) { s.outputKnown = known }

// Drained reports whether the body was read to its end (tests check connection reuse with it).
func (s *Stream) Drained() bool { return s.drained }
