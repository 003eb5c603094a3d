package responses

import (
	"net/http"
	"strconv"
	"time"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/internal/jsonw"
	"github.com/polydev/polydev/gateway/llm"
)

// StreamWriter renders stream events as the Responses API's server-sent events:
//
//	response.created, response.in_progress
//	per text run:  output_item.added (message), content_part.added, output_text.delta*,
//	               output_text.done, content_part.done, output_item.done
//	per tool call: output_item.added (function_call), function_call_arguments.delta*,
//	               function_call_arguments.done, output_item.done
//	               (a custom tool: custom_tool_call_input.delta once, .done, at the call's end,
//	               since its input is the decoded string argument)
//	response.completed, or response.incomplete (max_output_tokens, content_filter)
//
// Every event carries its type and a sequence_number counting from 0. The first events are held
// until the first content, so an upstream that fails before producing anything is answered with a
// plain HTTP error (and a router may still fail over); after that a failure is response.failed.
type StreamWriter struct {
	wire.Stream
	opts    *Options
	buf     []byte
	head    head
	seq     int
	started bool
	opened  bool // response.created and response.in_progress were sent
	done    bool
	stopped bool

	output [][]byte // finished items by output_index (nil while in progress)
	msg    *openMessage
	calls  map[int]*openCall // by canonical call index
}

type openMessage struct {
	id     string
	output int
	text   []byte
}

type openCall struct {
	id, callID string
	ref        ToolRef
	output     int
	args       []byte
}

// NewStreamWriter returns a writer for one response.
func NewStreamWriter(w http.ResponseWriter, opts *Options) *StreamWriter {
	return &StreamWriter{Stream: wire.NewStream(w), opts: opts, buf: make([]byte, 0, 512)}
}

// Stopped reports whether the final event was written (wire.StreamRenderer).
func (s *StreamWriter) Stopped() bool { return s.stopped }

func (s *StreamWriter) begin() {
	s.started = true
	s.head = head{id: wire.NewID("resp_"), created: wire.Now().Unix(), opts: s.opts}
}

// event opens an event of type typ: its event line and its data up to the sequence number; the
// caller appends the remaining fields and ends it with end.
func (s *StreamWriter) event(b []byte, typ string) []byte {
	b = append(b, "event: "...)
	b = append(b, typ...)
	b = append(b, "\ndata: {\"type\":\""...)
	b = append(b, typ...)
	b = append(b, `","sequence_number":`...)
	b = strconv.AppendInt(b, int64(s.seq), 10)
	s.seq++
	return b
}

func end(b []byte) []byte { return append(b, "}\n\n"...) }

// appendItemRef appends the item_id and output_index fields.
func appendItemRef(b []byte, id string, output int) []byte {
	b = append(b, `,"item_id":`...)
	b = jsonw.String(b, id)
	b = append(b, `,"output_index":`...)
	return jsonw.Int(b, output)
}

// openResponse appends response.created and response.in_progress.
func (s *StreamWriter) openResponse(b []byte) []byte {
	s.opened = true
	for _, typ := range [...]string{"response.created", "response.in_progress"} {
		b = s.event(b, typ)
		b = append(b, `,"response":`...)
		b = s.head.appendResponse(b, statusInProgress, "", nil, nil, nil)
		b = end(b)
	}
	return b
}

// addItem reserves the next output index.
func (s *StreamWriter) addItem() int {
	s.output = append(s.output, nil)
	return len(s.output) - 1
}

// startMessage appends the events that open a message item with one output_text part.
func (s *StreamWriter) startMessage(b []byte) []byte {
	m := &openMessage{id: wire.NewID("msg_"), output: s.addItem()}
	s.msg = m
	b = s.event(b, "response.output_item.added")
	b = append(b, `,"output_index":`...)
	b = jsonw.Int(b, m.output)
	b = append(b, `,"item":`...)
	b = appendMessage(b, m.id, statusInProgress, "", false)
	b = end(b)
	b = s.event(b, "response.content_part.added")
	b = appendItemRef(b, m.id, m.output)
	b = append(b, `,"content_index":0,"part":`...)
	b = appendTextPart(b, "")
	return end(b)
}

// endMessage appends the events that close the open message item.
func (s *StreamWriter) endMessage(b []byte) []byte {
	m := s.msg
	s.msg = nil
	text := string(m.text)
	b = s.event(b, "response.output_text.done")
	b = appendItemRef(b, m.id, m.output)
	b = append(b, `,"content_index":0,"text":`...)
	b = jsonw.String(b, text)
	b = append(b, `,"logprobs":[]`...)
	b = end(b)
	b = s.event(b, "response.content_part.done")
	b = appendItemRef(b, m.id, m.output)
	b = append(b, `,"content_index":0,"part":`...)
	b = appendTextPart(b, text)
	b = end(b)
	item := appendMessage(nil, m.id, statusCompleted, text, true)
	s.output[m.output] = item
	return s.itemDone(b, m.output, item)
}

func (s *StreamWriter) itemDone(b []byte, output int, item []byte) []byte {
	b = s.event(b, "response.output_item.done")
	b = append(b, `,"output_index":`...)
	b = jsonw.Int(b, output)
	b = append(b, `,"item":`...)
	b = append(b, item...)
	return end(b)
}

func (s *StreamWriter) startCall(b []byte, ev llm.Event) []byte {
	c := &openCall{callID: ev.ID, ref: s.opts.ref(ev.Name), output: s.addItem()}
	c.id = wire.NewID(callPrefix(c.ref))
	if s.calls == nil {
		s.calls = map[int]*openCall{}
	}
	if old := s.calls[ev.Index]; old != nil { // a repeated start: end the first call
		b = s.endCall(b, ev.Index)
	}
	s.calls[ev.Index] = c
	b = s.event(b, "response.output_item.added")
	b = append(b, `,"output_index":`...)
	b = jsonw.Int(b, c.output)
	b = append(b, `,"item":`...)
	b = appendCall(b, c.id, statusInProgress, c.callID, c.ref, nil)
	return end(b)
}

func (s *StreamWriter) callDelta(b []byte, ev llm.Event) []byte {
	c := s.calls[ev.Index]
	if c == nil {
		return b // a delta of no open call: nothing to attach it to
	}
	c.args = append(c.args, ev.Text...)
	if c.ref.Custom {
		return b // the input is known only once the arguments are complete
	}
	b = s.event(b, "response.function_call_arguments.delta")
	b = appendItemRef(b, c.id, c.output)
	b = append(b, `,"delta":`...)
	b = jsonw.String(b, ev.Text)
	return end(b)
}

func (s *StreamWriter) endCall(b []byte, index int) []byte {
	c := s.calls[index]
	if c == nil {
		return b
	}
	delete(s.calls, index)
	if c.ref.Custom {
		input := customInput(c.args)
		b = s.event(b, "response.custom_tool_call_input.delta")
		b = appendItemRef(b, c.id, c.output)
		b = append(b, `,"delta":`...)
		b = jsonw.String(b, input)
		b = end(b)
		b = s.event(b, "response.custom_tool_call_input.done")
		b = appendItemRef(b, c.id, c.output)
		b = append(b, `,"input":`...)
		b = jsonw.String(b, input)
		b = end(b)
	} else {
		b = s.event(b, "response.function_call_arguments.done")
		b = appendItemRef(b, c.id, c.output)
		b = append(b, `,"name":`...)
		b = jsonw.String(b, c.ref.Name)
		b = append(b, `,"arguments":`...)
		b = jsonw.String(b, string(c.args))
		b = end(b)
	}
	item := appendCall(nil, c.id, statusCompleted, c.callID, c.ref, c.args)
	s.output[c.output] = item
	return s.itemDone(b, c.output, item)
}

// closeAll ends the open message and calls, in output order.
func (s *StreamWriter) closeAll(b []byte) []byte {
	if s.msg != nil {
		b = s.endMessage(b)
	}
	for len(s.calls) > 0 {
		first, at := -1, len(s.output)
		for i, c := range s.calls {
			if c.output < at {
				first, at = i, c.output
			}
		}
		b = s.endCall(b, first)
	}
	return b
}

// finished returns the items that were completed, in output order.
func (s *StreamWriter) finished() [][]byte {
	out := make([][]byte, 0, len(s.output))
	for _, it := range s.output {
		if it != nil {
			out = append(out, it)
		}
	}
	return out
}

// Write renders one event.
func (s *StreamWriter) Write(ev llm.Event) error {
	if s.done {
		return nil
	}
	if ev.Kind == llm.EventStart {
		if !s.started {
			s.begin()
		}
		return nil
	}
	if !s.started {
		s.begin()
	}
	s.Commit()
	b := s.buf[:0]
	if !s.opened {
		b = s.openResponse(b)
	}
	switch ev.Kind {
	case llm.EventText:
		if s.msg == nil {
			b = s.startMessage(b)
		}
		s.msg.text = append(s.msg.text, ev.Text...)
		b = s.event(b, "response.output_text.delta")
		b = appendItemRef(b, s.msg.id, s.msg.output)
		b = append(b, `,"content_index":0,"delta":`...)
		b = jsonw.String(b, ev.Text)
		b = append(b, `,"logprobs":[]`...)
		b = end(b)
	case llm.EventToolStart:
		if s.msg != nil {
			b = s.endMessage(b)
		}
		b = s.startCall(b, ev)
	case llm.EventToolDelta:
		b = s.callDelta(b, ev)
	case llm.EventToolEnd:
		b = s.endCall(b, ev.Index)
	case llm.EventStop:
		s.done, s.stopped = true, true
		b = s.closeAll(b)
		status, reason := outcome(ev.Stop)
		typ := "response.completed"
		if status == statusIncomplete {
			typ = "response.incomplete"
		}
		b = s.event(b, typ)
		b = append(b, `,"response":`...)
		u := ev.Usage
		b = s.head.appendResponse(b, status, reason, s.finished(), &u, nil)
		b = end(b)
	}
	s.buf = b
	if len(b) == 0 {
		return nil
	}
	return s.SW.Send(b)
}

// Error reports err: as an HTTP error response when nothing was sent yet, otherwise as
// response.failed carrying the error and the items completed so far, after which the stream ends.
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
	if !s.started {
		s.begin()
	}
	b := s.buf[:0]
	if !s.opened {
		b = s.openResponse(b)
	}
	b = s.event(b, "response.failed")
	b = append(b, `,"response":`...)
	b = s.head.appendResponse(b, statusFailed, "", s.finished(), nil, appendErrorObject(nil, err))
	b = end(b)
	s.buf = b
	return s.SW.Send(b)
}

// Relay copies st to the client until it ends, the upstream fails (rendered with Error) or the
// client goes away, with an SSE comment whenever the stream is idle for every (0 = none). It
// returns the usage to bill (partial when the stream did not finish) and the error that ended the
// stream, nil when it completed. The caller closes st.
func Relay(w http.ResponseWriter, st llm.Stream, opts *Options, every time.Duration) (llm.Usage, error) {
	return wire.Relay(NewStreamWriter(w, opts), st, every)
}
