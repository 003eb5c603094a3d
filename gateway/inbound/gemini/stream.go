package gemini

import (
	"net/http"
	"time"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// StreamWriter renders stream events as streamGenerateContent does: a GenerateContentResponse per
// text delta and per function call (Gemini sends calls whole, so a call's argument fragments are
// gathered until it ends), the last one carrying finishReason and usageMetadata. With alt=sse each
// is an SSE event (`data: {...}` and CRLF CRLF, as Google frames them); without it they are the
// elements of one JSON array, written as they come. Nothing is written before the first content,
// so an upstream that fails before producing anything is answered with a plain HTTP error.
type StreamWriter struct {
	wire.Stream
	sse     bool
	buf     []byte
	id      string
	model   string
	chunks  int // chunks written
	tools   []pendingCall
	done    bool
	stopped bool
}

// pendingCall is a function call whose arguments are still arriving.
type pendingCall struct {
	index    int
	id, name string
	args     []byte
	open     bool
}

// NewStreamWriter returns a writer for one response; alt selects alt=sse framing.
func NewStreamWriter(w http.ResponseWriter, alt bool) *StreamWriter {
	return &StreamWriter{Stream: wire.NewStream(w), sse: alt, buf: make([]byte, 0, 512)}
}

// Heartbeat commits the 200 and sends an SSE comment whenever the stream is idle for every, which
// SSE clients skip. A JSON array has no room for one, so without alt=sse it does nothing.
func (s *StreamWriter) Heartbeat(every time.Duration) error {
	if !s.sse {
		return nil
	}
	s.commit()
	if err := s.SW.Send(nil); err != nil {
		return err
	}
	s.SW.Heartbeat(every)
	return nil
}

// Stopped reports whether the final chunk was written (wire.StreamRenderer).
func (s *StreamWriter) Stopped() bool { return s.stopped }

func (s *StreamWriter) commit() {
	if s.HeaderOK {
		return
	}
	s.HeaderOK = true
	h := s.W.Header()
	if s.sse {
		wire.StreamHeaders(h)
	} else {
		h.Set("Content-Type", "application/json; charset=UTF-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		h.Del("Content-Length")
	}
	s.W.WriteHeader(http.StatusOK)
}

// open starts one chunk's framing.
func (s *StreamWriter) open(b []byte) []byte {
	switch {
	case s.sse:
		b = append(b, "data: "...)
	case s.chunks == 0:
		b = append(b, '[')
	default:
		b = append(b, ",\r\n"...)
	}
	s.chunks++
	return b
}

// close ends one chunk's framing.
func (s *StreamWriter) close(b []byte) []byte {
	if s.sse {
		return append(b, "\r\n\r\n"...)
	}
	return b
}

func (s *StreamWriter) chunk(b []byte, c *candidate) []byte {
	c.model, c.id = s.model, s.id
	b = s.open(b)
	b = appendCandidate(b, c)
	return s.close(b)
}

// Write renders one event.
func (s *StreamWriter) Write(ev llm.Event) error {
	if s.done {
		return nil
	}
	b := s.buf[:0]
	switch ev.Kind {
	case llm.EventStart:
		s.id, s.model = ev.ID, ev.Model
		if s.id == "" {
			s.id = wire.NewID("")
		}
		return nil
	case llm.EventText:
		if ev.Text == "" {
			return nil
		}
		b = s.chunk(b, &candidate{parts: appendText(nil, ev.Text)})
	case llm.EventToolStart:
		s.tools = append(s.tools, pendingCall{index: ev.Index, id: ev.ID, name: ev.Name, open: true})
		return nil
	case llm.EventToolDelta:
		if t := s.tool(ev.Index); t != nil {
			t.args = append(t.args, ev.Text...)
		}
		return nil
	case llm.EventToolEnd:
		t := s.tool(ev.Index)
		if t == nil {
			return nil
		}
		t.open = false
		b = s.chunk(b, &candidate{parts: appendFunctionCall(nil, t.id, t.name, t.args)})
	case llm.EventStop:
		s.done, s.stopped = true, true
		var parts []byte
		for i := range s.tools { // calls the upstream never ended go out whole with the last chunk
			if t := &s.tools[i]; t.open {
				if len(parts) > 0 {
					parts = append(parts, ',')
				}
				parts = appendFunctionCall(parts, t.id, t.name, t.args)
			}
		}
		u := ev.Usage
		b = s.chunk(b, &candidate{parts: parts, finish: FinishReason(ev.Stop), usage: &u})
		if !s.sse {
			b = append(b, ']')
		}
	default:
		return nil
	}
	s.commit()
	s.buf = b
	return s.SW.Send(b)
}

func (s *StreamWriter) tool(index int) *pendingCall {
	for i := range s.tools {
		if s.tools[i].index == index && s.tools[i].open {
			return &s.tools[i]
		}
	}
	return nil
}

// Error reports err: as an HTTP error response when nothing was sent yet, otherwise as a chunk
// holding Google's error object (an SSE event, or the array's last element), after which the
// stream ends.
func (s *StreamWriter) Error(err error) error {
	if s.done {
		return nil
	}
	s.done = true
	if !s.HeaderOK {
		s.HeaderOK = true
		WriteError(s.W, err)
		return nil
	}
	b := s.open(s.buf[:0])
	b, _ = AppendError(b, err)
	b = s.close(b)
	if !s.sse {
		b = append(b, ']')
	}
	s.buf = b
	return s.SW.Send(b)
}

// RelayHeartbeat copies s to the client until it ends, the upstream fails (rendered with Error) or
// the client goes away, with an SSE comment whenever the stream is idle for every (0 = none; alt=sse
// only). It returns the usage to bill (partial when the stream did not finish) and the error that
// ended the stream, nil when it completed. The caller closes s.
func RelayHeartbeat(w http.ResponseWriter, s llm.Stream, alt bool, every time.Duration) (llm.Usage, error) {
	return wire.Relay(NewStreamWriter(w, alt), s, every)
}
