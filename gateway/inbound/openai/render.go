package openai

import (
	"net/http"
	"strconv"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/internal/jsonw"
	"github.com/polydev/polydev/gateway/llm"
)

// FinishReason maps a stop reason to OpenAI's finish_reason.
func FinishReason(r llm.StopReason) string {
	switch r {
	case llm.StopMaxTokens:
		return "length"
	case llm.StopToolUse:
		return "tool_calls"
	case llm.StopContentFilter:
		return "content_filter"
	}
	return "stop" // end_turn, stop_sequence, error
}

// appendUsage appends OpenAI's usage object. Cache writes have no field of their own: they are
// part of prompt_tokens.
func appendUsage(b []byte, u llm.Usage) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = jsonw.Int(b, u.InputTokens)
	b = append(b, `,"completion_tokens":`...)
	b = jsonw.Int(b, u.OutputTokens)
	b = append(b, `,"total_tokens":`...)
	b = jsonw.Int(b, u.TotalTokens())
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = jsonw.Int(b, u.CacheReadTokens)
	b = append(b, `},"completion_tokens_details":{"reasoning_tokens":`...)
	b = jsonw.Int(b, u.ReasoningTokens)
	return append(b, `}}`...)
}

// AppendResponse appends resp as a chat.completion object.
func AppendResponse(b []byte, resp *llm.Response, created int64) []byte {
	id := resp.ID
	if id == "" {
		id = wire.NewID("chatcmpl-")
	}
	b = append(b, `{"id":`...)
	b = jsonw.String(b, id)
	b = append(b, `,"object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = jsonw.String(b, resp.Model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	calls := resp.ToolCalls()
	if text := resp.Text(); text != "" || len(calls) == 0 {
		b = jsonw.String(b, text)
	} else {
		b = append(b, "null"...)
	}
	if len(calls) > 0 {
		b = append(b, `,"tool_calls":[`...)
		for i, tc := range calls {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = jsonw.String(b, tc.ID)
			b = append(b, `,"type":"function","function":{"name":`...)
			b = jsonw.String(b, tc.Name)
			b = append(b, `,"arguments":`...)
			b = jsonw.String(b, string(tc.Arguments))
			b = append(b, `}}`...)
		}
		b = append(b, ']')
	}
	b = append(b, `,"refusal":null},"logprobs":null,"finish_reason":`...)
	b = jsonw.String(b, FinishReason(resp.StopReason))
	b = append(b, `}],"usage":`...)
	b = appendUsage(b, resp.Usage)
	return append(b, '}')
}

// WriteResponse writes resp as a chat.completion JSON response.
func WriteResponse(w http.ResponseWriter, resp *llm.Response) error {
	return wire.WriteJSON(w, AppendResponse(make([]byte, 0, 512), resp, wire.Now().Unix()))
}

// errorType is the OpenAI error type and code for a classified error.
func errorType(c wire.Class) (typ, code string) {
	if e := c.Upstream; e != nil {
		switch e.Kind {
		case llm.ErrInvalidRequest:
			return "invalid_request_error", "upstream_invalid_request"
		case llm.ErrRateLimit:
			return "rate_limit_error", "rate_limit_exceeded"
		case llm.ErrQuota:
			return "insufficient_quota", "insufficient_quota"
		}
		return "server_error", "upstream_" + string(e.Kind)
	}
	switch c.Code {
	case polydev.EINVALID, polydev.ECONFLICT, polydev.ETOOLARGE:
		return "invalid_request_error", c.Code
	case polydev.EUNAUTHORIZED:
		return "authentication_error", c.Code
	case polydev.EFORBIDDEN:
		return "permission_error", c.Code
	case polydev.ENOTFOUND:
		return "not_found_error", c.Code
	case polydev.ERATELIMIT:
		return "rate_limit_error", c.Code
	case polydev.EPAYMENT:
		return "insufficient_quota", c.Code
	}
	return "api_error", c.Code
}

// AppendError appends {"error":{"message","type","param","code"}} for err.
func AppendError(b []byte, err error) []byte {
	c := wire.Classify(err)
	typ, code := errorType(c)
	b = append(b, `{"error":{"message":`...)
	b = jsonw.String(b, c.Message)
	b = append(b, `,"type":`...)
	b = jsonw.String(b, typ)
	b = append(b, `,"param":null,"code":`...)
	b = jsonw.String(b, code)
	return append(b, `}}`...)
}

// WriteError writes err as an OpenAI error response with its status, Retry-After when a pause
// helps (the provider's, or the time left in one of Polydev's own limit windows) and
// x-should-retry, which the official SDKs obey over their own retry rules.
func WriteError(w http.ResponseWriter, err error) {
	c := wire.Classify(err)
	wire.WriteClassError(w, c, c.Status, append(AppendError(nil, err), '\n'))
}

// StreamWriter renders stream events as chat.completion.chunk server-sent events, flushing each
// one (in a relay, when the stream is about to wait: see hold). The first chunk (the assistant role) is written together with the first content, so an
// upstream that fails before producing anything can still be answered with a plain HTTP error
// (Error does that) and a router may still fail over.
type StreamWriter struct {
	wire.Stream
	opts     Options
	buf      []byte
	prefix   []byte // `data: {"id":...,"delta":`, built at the start event
	suffix   []byte // `,"logprobs":null,"finish_reason":null}]...}` + "\n\n"
	head     []byte // `data: {"id":...,"model":...,` for the usage chunk
	started  bool
	roleDone bool // the first chunk, with the assistant role, was sent
	done     bool
	stopped  bool // the stop frame was written
}

// NewStreamWriter returns a writer for one response.
func NewStreamWriter(w http.ResponseWriter, opts Options) *StreamWriter {
	return &StreamWriter{Stream: wire.NewStream(w), opts: opts, buf: make([]byte, 0, 512)}
}

// Stopped reports whether the stop frame was written (wire.StreamRenderer).
func (s *StreamWriter) Stopped() bool { return s.stopped }

// commit sends the status line and stream headers (they reach the client with the first flush).
func (s *StreamWriter) begin(id, model string) {
	s.started = true
	if id == "" {
		id = wire.NewID("chatcmpl-")
	}
	created := wire.Now().Unix()
	h := append(make([]byte, 0, 160), `data: {"id":`...)
	h = jsonw.String(h, id)
	h = append(h, `,"object":"chat.completion.chunk","created":`...)
	h = strconv.AppendInt(h, created, 10)
	h = append(h, `,"model":`...)
	h = jsonw.String(h, model)
	h = append(h, ',')
	s.head = h
	s.prefix = append(append([]byte(nil), h...), `"choices":[{"index":0,"delta":`...)
	s.suffix = []byte(`,"logprobs":null,"finish_reason":null}]`)
	if s.opts.IncludeUsage {
		s.suffix = append(s.suffix, `,"usage":null`...)
	}
	s.suffix = append(s.suffix, "}\n\n"...)
}

// Write renders one event.
func (s *StreamWriter) Write(ev llm.Event) error {
	if s.done {
		return nil
	}
	if ev.Kind == llm.EventStart {
		s.begin(ev.ID, ev.Model)
		return nil
	}
	if ev.Kind == llm.EventToolEnd {
		return nil // OpenAI has no end-of-call marker
	}
	if !s.started {
		s.begin("", "")
	}
	b := s.buf[:0]
	s.Commit()
	if !s.roleDone {
		s.roleDone = true
		b = append(b, s.prefix...)
		b = append(b, `{"role":"assistant","content":""}`...)
		b = append(b, s.suffix...)
	}
	switch ev.Kind {
	case llm.EventText:
		b = append(b, s.prefix...)
		b = append(b, `{"content":`...)
		b = jsonw.String(b, ev.Text)
		b = append(b, '}')
		b = append(b, s.suffix...)
	case llm.EventToolStart:
		b = append(b, s.prefix...)
		b = append(b, `{"tool_calls":[{"index":`...)
		b = jsonw.Int(b, ev.Index)
		b = append(b, `,"id":`...)
		b = jsonw.String(b, ev.ID)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = jsonw.String(b, ev.Name)
		b = append(b, `,"arguments":""}}]}`...)
		b = append(b, s.suffix...)
	case llm.EventToolDelta:
		b = append(b, s.prefix...)
		b = append(b, `{"tool_calls":[{"index":`...)
		b = jsonw.Int(b, ev.Index)
		b = append(b, `,"function":{"arguments":`...)
		b = jsonw.String(b, ev.Text)
		b = append(b, `}}]}`...)
		b = append(b, s.suffix...)
	case llm.EventStop:
		s.done, s.stopped = true, true
		b = append(b, s.prefix...)
		b = append(b, `{},"logprobs":null,"finish_reason":`...)
		b = jsonw.String(b, FinishReason(ev.Stop))
		b = append(b, "}]"...)
		if s.opts.IncludeUsage {
			b = append(b, `,"usage":null}`+"\n\n"...)
			b = append(b, s.head...)
			b = append(b, `"choices":[],"usage":`...)
			b = appendUsage(b, ev.Usage)
		}
		b = append(b, "}\n\ndata: [DONE]\n\n"...)
	}
	s.buf = b
	return s.SW.Send(b)
}

// Error reports err: as an HTTP error response when nothing was sent yet, otherwise as an error
// chunk ({"error":{...}}, the way OpenAI reports failures mid-stream), after which the stream
// ends without [DONE].
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
	b := append(s.buf[:0], "data: "...)
	b = AppendError(b, err)
	b = append(b, "\n\n"...)
	s.buf = b
	return s.SW.Send(b)
}

// Relay copies s to the client until it ends, the upstream fails (rendered with Error) or the
// client goes away. It returns the usage to bill (partial when the stream did not finish) and
// the error that ended the stream, nil when it completed. The caller closes s.
func Relay(w http.ResponseWriter, s llm.Stream, opts Options) (llm.Usage, error) {
	return RelayHeartbeat(w, s, opts, 0)
}

// RelayHeartbeat is Relay with an SSE comment sent whenever the stream is idle for every (0 = none),
// so proxies and clients keep a slow stream (a model thinking before its first token) open. The 200
// is then committed at once, so upstream errors before content arrive as an error chunk; it reaches
// the client with the first events, or before the first wait for the upstream, whichever is first.
func RelayHeartbeat(w http.ResponseWriter, s llm.Stream, opts Options, every time.Duration) (llm.Usage, error) {
	return wire.Relay(NewStreamWriter(w, opts), s, every)
}
