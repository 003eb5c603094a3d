package anthropic

import (
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/internal/jsonw"
	"github.com/polydev/polydev/gateway/llm"
)

// StopReason maps a stop reason to Anthropic's stop_reason.
func StopReason(r llm.StopReason) string {
	switch r {
	case llm.StopMaxTokens:
		return "max_tokens"
	case llm.StopToolUse:
		return "tool_use"
	case llm.StopSequence:
		return "stop_sequence"
	case llm.StopContentFilter:
		return "refusal"
	}
	return "end_turn" // end_turn, error
}

// appendUsage appends Anthropic's usage: input_tokens counts only what was neither read from nor
// written to the cache.
func appendUsage(b []byte, u llm.Usage) []byte {
	b = append(b, `{"input_tokens":`...)
	b = jsonw.Int(b, u.UncachedInputTokens())
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = jsonw.Int(b, u.CacheWriteTokens)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = jsonw.Int(b, u.CacheReadTokens)
	b = append(b, `,"output_tokens":`...)
	b = jsonw.Int(b, u.OutputTokens)
	return append(b, '}')
}

func appendStopSequence(b []byte, seq string) []byte {
	if seq == "" {
		return append(b, "null"...)
	}
	return jsonw.String(b, seq)
}

func appendToolUse(b []byte, id, name string, input []byte) []byte {
	b = append(b, `{"type":"tool_use","id":`...)
	b = jsonw.String(b, id)
	b = append(b, `,"name":`...)
	b = jsonw.String(b, name)
	b = append(b, `,"input":`...)
	b = jsonw.Object(b, input)
	return append(b, '}')
}

// AppendResponse appends resp as a Messages API message object.
func AppendResponse(b []byte, resp *llm.Response) []byte {
	id := resp.ID
	if id == "" {
		id = wire.NewID("msg_")
	}
	b = append(b, `{"id":`...)
	b = jsonw.String(b, id)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = jsonw.String(b, resp.Model)
	b = append(b, `,"content":[`...)
	n := 0
	for _, p := range resp.Content {
		switch p.Kind {
		case llm.PartText:
			if p.Text == "" {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"text","text":`...)
			b = jsonw.String(b, p.Text)
			b = append(b, '}')
		case llm.PartToolCall:
			if n > 0 {
				b = append(b, ',')
			}
			b = appendToolUse(b, p.ToolCall.ID, p.ToolCall.Name, p.ToolCall.Arguments)
		default:
			continue
		}
		n++
	}
	b = append(b, `],"stop_reason":`...)
	b = jsonw.String(b, StopReason(resp.StopReason))
	b = append(b, `,"stop_sequence":`...)
	b = appendStopSequence(b, resp.StopSequence)
	b = append(b, `,"usage":`...)
	b = appendUsage(b, resp.Usage)
	return append(b, '}')
}

// WriteResponse writes resp as a message JSON response.
func WriteResponse(w http.ResponseWriter, resp *llm.Response) error {
	return wire.WriteJSON(w, AppendResponse(make([]byte, 0, 512), resp))
}

// errorType is the Anthropic error type and the status for a classified error. An overloaded
// upstream is a 529, the status Anthropic clients know to retry.
func errorType(c wire.Class) (typ string, status int) {
	if e := c.Upstream; e != nil {
		switch e.Kind {
		case llm.ErrInvalidRequest:
			switch c.Status {
			case http.StatusNotFound:
				return "not_found_error", c.Status
			case http.StatusRequestEntityTooLarge:
				return "request_too_large", c.Status
			}
			return "invalid_request_error", c.Status
		case llm.ErrRateLimit, llm.ErrQuota:
			return "rate_limit_error", c.Status
		case llm.ErrOverloaded:
			return "overloaded_error", 529
		case llm.ErrTimeout:
			return "timeout_error", c.Status
		}
		return "api_error", c.Status
	}
	switch c.Code {
	case polydev.EINVALID, polydev.ECONFLICT:
		return "invalid_request_error", c.Status
	case polydev.EUNAUTHORIZED:
		return "authentication_error", c.Status
	case polydev.EFORBIDDEN:
		return "permission_error", c.Status
	case polydev.ENOTFOUND:
		return "not_found_error", c.Status
	case polydev.ETOOLARGE:
		return "request_too_large", c.Status
	case polydev.ERATELIMIT:
		return "rate_limit_error", c.Status
	case polydev.EPAYMENT:
		return "billing_error", c.Status // Anthropic's own type for a 402
	}
	return "api_error", c.Status
}

// AppendError appends {"type":"error","error":{"type","message"}} for err and returns the HTTP
// status it belongs with.
func AppendError(b []byte, err error) ([]byte, int) {
	c := wire.Classify(err)
	typ, status := errorType(c)
	b = append(b, `{"type":"error","error":{"type":`...)
	b = jsonw.String(b, typ)
	b = append(b, `,"message":`...)
	b = jsonw.String(b, c.Message)
	return append(b, `}}`...), status
}

// WriteError writes err as an Anthropic error response, with Retry-After and x-should-retry as
// openai.WriteError does (the Anthropic SDKs obey the same header).
func WriteError(w http.ResponseWriter, err error) {
	body, status := AppendError(nil, err)
	wire.WriteClassError(w, wire.Classify(err), status, append(body, '\n'))
}

// StreamWriter renders stream events as the Anthropic event sequence, flushing each event (in a
// relay, when the stream is about to wait: see hold). It opens and closes content blocks itself
// (text and tool_use blocks in the order the model produced them). message_start is written
// together with the first content, so an upstream that fails before producing anything can still
// be answered with a plain HTTP error.
type StreamWriter struct {
	wire.Stream
	buf     []byte
	id      string
	model   string
	start   llm.Usage // usage known at the start event
	msgSent bool
	block   int   // index of the open block, or -1
	blockIs int   // tool index of the open block, -1 for text
	next    int   // next block index
	tools   []int // tool index → block index
	done    bool
	stopped bool // the stop frame was written
}

// NewStreamWriter returns a writer for one response.
func NewStreamWriter(w http.ResponseWriter) *StreamWriter {
	return &StreamWriter{Stream: wire.NewStream(w), buf: make([]byte, 0, 512), block: -1}
}

// Stopped reports whether the stop frame was written (wire.StreamRenderer).
func (s *StreamWriter) Stopped() bool { return s.stopped }

func event(b []byte, name string) []byte {
	b = append(b, "event: "...)
	b = append(b, name...)
	return append(b, "\ndata: "...)
}

func (s *StreamWriter) messageStart(b []byte) []byte {
	id := s.id
	if id == "" {
		id = wire.NewID("msg_")
	}
	b = event(b, "message_start")
	b = append(b, `{"type":"message_start","message":{"id":`...)
	b = jsonw.String(b, id)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = jsonw.String(b, s.model)
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	b = appendUsage(b, s.start)
	return append(b, "}}\n\n"...)
}

func (s *StreamWriter) closeBlock(b []byte) []byte {
	if s.block < 0 {
		return b
	}
	b = event(b, "content_block_stop")
	b = append(b, `{"type":"content_block_stop","index":`...)
	b = jsonw.Int(b, s.block)
	s.block = -1
	return append(b, "}\n\n"...)
}

func (s *StreamWriter) openBlock(b []byte, tool int, ev *llm.Event) []byte {
	b = s.closeBlock(b)
	s.block, s.blockIs = s.next, tool
	s.next++
	b = event(b, "content_block_start")
	b = append(b, `{"type":"content_block_start","index":`...)
	b = jsonw.Int(b, s.block)
	b = append(b, `,"content_block":`...)
	if tool < 0 {
		b = append(b, `{"type":"text","text":""}`...)
	} else {
		b = appendToolUse(b, ev.ID, ev.Name, []byte("{}"))
	}
	return append(b, "}\n\n"...)
}

func (s *StreamWriter) delta(b []byte, block int) []byte {
	b = event(b, "content_block_delta")
	b = append(b, `{"type":"content_block_delta","index":`...)
	b = jsonw.Int(b, block)
	return append(b, `,"delta":`...)
}

// Write renders one event.
func (s *StreamWriter) Write(ev llm.Event) error {
	if s.done {
		return nil
	}
	if ev.Kind == llm.EventStart {
		s.id, s.model, s.start = ev.ID, ev.Model, ev.Usage
		return nil
	}
	s.Commit()
	b := s.buf[:0]
	if !s.msgSent {
		s.msgSent = true
		b = s.messageStart(b)
	}
	switch ev.Kind {
	case llm.EventText:
		if ev.Text == "" {
			break
		}
		if s.block < 0 || s.blockIs >= 0 {
			b = s.openBlock(b, -1, &ev)
		}
		b = s.delta(b, s.block)
		b = append(b, `{"type":"text_delta","text":`...)
		b = jsonw.String(b, ev.Text)
		b = append(b, "}}\n\n"...)
	case llm.EventToolStart:
		b = s.openBlock(b, ev.Index, &ev)
		for len(s.tools) <= ev.Index {
			s.tools = append(s.tools, -1)
		}
		s.tools[ev.Index] = s.block
	case llm.EventToolDelta:
		block := s.toolBlock(ev.Index)
		if block < 0 {
			break
		}
		b = s.delta(b, block)
		b = append(b, `{"type":"input_json_delta","partial_json":`...)
		b = jsonw.String(b, ev.Text)
		b = append(b, "}}\n\n"...)
	case llm.EventToolEnd:
		if s.block >= 0 && s.block == s.toolBlock(ev.Index) {
			b = s.closeBlock(b)
		}
	case llm.EventStop:
		s.done, s.stopped = true, true
		b = s.closeBlock(b)
		b = event(b, "message_delta")
		b = append(b, `{"type":"message_delta","delta":{"stop_reason":`...)
		b = jsonw.String(b, StopReason(ev.Stop))
		b = append(b, `,"stop_sequence":`...)
		b = appendStopSequence(b, ev.StopSequence)
		b = append(b, `},"usage":`...)
		b = appendUsage(b, ev.Usage)
		b = append(b, "}\n\n"...)
		b = event(b, "message_stop")
		b = append(b, `{"type":"message_stop"}`+"\n\n"...)
	}
	s.buf = b
	if len(b) == 0 {
		return nil
	}
	return s.SW.Send(b)
}

func (s *StreamWriter) toolBlock(tool int) int {
	if tool < 0 || tool >= len(s.tools) {
		return -1
	}
	return s.tools[tool]
}

// Error reports err: as an HTTP error response when nothing was sent yet, otherwise as an
// `event: error`, the way Anthropic reports failures after a 200; the stream then ends.
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
	b := event(s.buf[:0], "error")
	b, _ = AppendError(b, err)
	b = append(b, "\n\n"...)
	s.buf = b
	return s.SW.Send(b)
}

// Relay copies s to the client until it ends, the upstream fails (rendered with Error) or the
// client goes away. It returns the usage to bill (partial when the stream did not finish) and
// the error that ended the stream, nil when it completed. The caller closes s.
func Relay(w http.ResponseWriter, s llm.Stream) (llm.Usage, error) {
	return RelayHeartbeat(w, s, 0)
}

// RelayHeartbeat is Relay with an SSE comment sent whenever the stream is idle for every (0 = none),
// so proxies and clients keep a slow stream (a model thinking before its first token) open. The 200
// is then committed at once, so upstream errors before content arrive as an error event, as
// Anthropic's own API does; it reaches the client with the first events, or before the first wait
// for the upstream, whichever is first.
func RelayHeartbeat(w http.ResponseWriter, s llm.Stream, every time.Duration) (llm.Usage, error) {
	return wire.Relay(NewStreamWriter(w), s, every)
}
