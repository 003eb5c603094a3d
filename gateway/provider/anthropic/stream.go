package anthropic

import (
	"encoding/json"
	"errors"

	"github.com/polydev/polydev/gateway/internal/jsonscan"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// wireEvent is the union of the stream's event payloads. The hot fields are read with
// jsonscan; the objects that come once per stream or per block go through encoding/json.
type wireEvent struct {
	Type    string
	Message *struct {
		ID    string     `json:"id"`
		Model string     `json:"model"`
		Usage *wireUsage `json:"usage"`
	}
	Index        int
	ContentBlock *wireContent
	Delta        *wireDelta
	Usage        *wireUsage
}

type wireDelta struct {
	Type, Text, PartialJSON, StopReason, StopSequence string
}

// parse reads one event's data into w (reusing delta).
func parse(sc *jsonscan.Scanner, data []byte, w *wireEvent, delta *wireDelta) error {
	sc.Reset(data)
	*w = wireEvent{}
	if !sc.Object() {
		return sc.Err()
	}
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		var err error
		switch string(key) {
		case "type":
			w.Type = eventType(sc)
		case "index":
			w.Index = sc.Int()
		case "delta":
			if sc.Null() {
				continue
			}
			*delta = wireDelta{}
			w.Delta = delta
			parseDelta(sc, delta)
		case "message":
			err = rawInto(sc, &w.Message)
		case "content_block":
			err = rawInto(sc, &w.ContentBlock)
		case "usage":
			err = rawInto(sc, &w.Usage)
		default:
			sc.Skip()
		}
		if err != nil {
			return err
		}
	}
	return sc.End()
}

// rawInto decodes the next value into *dst with encoding/json (a null leaves it nil).
func rawInto[T any](sc *jsonscan.Scanner, dst **T) error {
	raw := sc.Skip()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	*dst = new(T)
	return json.Unmarshal(raw, *dst)
}

func parseDelta(sc *jsonscan.Scanner, d *wireDelta) {
	if !sc.Object() {
		return
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return
		}
		switch string(key) {
		case "type":
			d.Type = eventType(sc)
		case "text":
			d.Text = sc.StringOrNull()
		case "partial_json":
			d.PartialJSON = sc.StringOrNull()
		case "stop_reason":
			d.StopReason = sc.StringOrNull()
		case "stop_sequence":
			d.StopSequence = sc.StringOrNull()
		default:
			sc.Skip()
		}
	}
}

// eventType reads a type field without allocating for the names the stream repeats.
func eventType(sc *jsonscan.Scanner) string {
	b, _ := sc.Bytes()
	switch string(b) {
	case "content_block_delta":
		return "content_block_delta"
	case "text_delta":
		return "text_delta"
	case "input_json_delta":
		return "input_json_delta"
	}
	return string(b)
}

// decoder translates the Messages stream. Usage: message_start gives the input side and a
// provisional output count; each message_delta gives the cumulative output count.
type decoder struct {
	sc       jsonscan.Scanner
	ev       wireEvent
	delta    wireDelta
	started  bool
	blocks   []int  // content block index → tool index, or -1 for other blocks
	tools    int    // tool calls started
	open     []bool // by tool index: started and not yet ended
	stop     string
	stopSeq  string
	gotDelta bool // a message_delta arrived: its stop reason and usage are final
}

var errNoStart = errors.New("anthropic stream: event before message_start")

func (d *decoder) Event(s *upstream.Stream, ev sse.Event) error {
	typ := ev.Type
	switch typ {
	case "ping":
		return nil
	case "error":
		return streamError(ev.Data)
	}
	w := &d.ev
	if err := parse(&d.sc, ev.Data, w, &d.delta); err != nil {
		return err
	}
	if typ == "" {
		typ = w.Type
	}
	if typ != "message_start" && !d.started {
		switch typ {
		case "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop":
			return errNoStart
		}
	}
	switch typ {
	case "message_start":
		if d.started || w.Message == nil {
			return errors.New("anthropic stream: bad message_start")
		}
		d.started = true
		if u := w.Message.Usage; u != nil {
			if u.applyInput(s.Reported()) {
				s.SetInputKnown()
			}
			// The start's output_tokens is provisional (usually 1): it does not count what follows.
			s.Reported().OutputTokens = val(u.OutputTokens)
		}
		s.Start(w.Message.ID, w.Message.Model)
	case "content_block_start":
		if w.ContentBlock == nil || w.Index < 0 || w.Index > 4096 {
			return errors.New("anthropic stream: bad content_block_start")
		}
		for len(d.blocks) <= w.Index {
			d.blocks = append(d.blocks, -1)
		}
		switch w.ContentBlock.Type {
		case "tool_use":
			d.blocks[w.Index] = d.tools
			s.ToolStart(d.tools, w.ContentBlock.ID, w.ContentBlock.Name)
			d.open = append(d.open, true)
			d.tools++
		case "text":
			d.blocks[w.Index] = -1
			s.Text(w.ContentBlock.Text)
		default:
			d.blocks[w.Index] = -1 // thinking and server-tool blocks are not forwarded
		}
		s.SetOutputKnown(false)
	case "content_block_delta":
		if w.Delta == nil {
			return errors.New("anthropic stream: content_block_delta without delta")
		}
		switch w.Delta.Type {
		case "text_delta":
			s.Text(w.Delta.Text)
		case "input_json_delta":
			if tool := d.tool(w.Index); tool >= 0 {
				s.ToolDelta(tool, w.Delta.PartialJSON)
			}
		}
		s.SetOutputKnown(false)
	case "content_block_stop":
		if tool := d.tool(w.Index); tool >= 0 && d.open[tool] {
			s.ToolEnd(tool)
			d.open[tool] = false
		}
	case "message_delta":
		if w.Delta != nil {
			d.stop, d.stopSeq = w.Delta.StopReason, w.Delta.StopSequence
		}
		if u := w.Usage; u != nil {
			rep := s.Reported()
			if u.applyInput(rep) {
				s.SetInputKnown()
			}
			if u.OutputTokens != nil {
				rep.OutputTokens = *u.OutputTokens
				s.SetOutputKnown(true)
			}
		}
		d.gotDelta = true
	case "message_stop":
		d.finish(s)
	}
	return nil
}

// finish ends the stream: a tool call whose block never got its content_block_stop is ended
// first, so that the client always sees each call closed before the stop.
func (d *decoder) finish(s *upstream.Stream) {
	for tool, open := range d.open {
		if open {
			s.ToolEnd(tool)
			d.open[tool] = false
		}
	}
	s.Finish(stopReason(d.stop), d.stopSeq)
}

func (d *decoder) tool(block int) int {
	if block < 0 || block >= len(d.blocks) {
		return -1
	}
	return d.blocks[block]
}

// End accepts a stream cut right after its final message_delta (nothing is lost); anything
// earlier is truncated.
func (d *decoder) End(s *upstream.Stream) error {
	if d.gotDelta {
		d.finish(s)
	}
	return nil
}
