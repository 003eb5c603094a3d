package anthropic

import (
	"encoding/json"
	"errors"

	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// wireEvent is the union of the stream's event payloads.
type wireEvent struct {
	Type    string `json:"type"`
	Message *struct {
		ID    string     `json:"id"`
		Model string     `json:"model"`
		Usage *wireUsage `json:"usage"`
	} `json:"message"`
	Index        int          `json:"index"`
	ContentBlock *wireContent `json:"content_block"`
	Delta        *struct {
		Type         string `json:"type"`
		Text         string `json:"text"`
		PartialJSON  string `json:"partial_json"`
		StopReason   string `json:"stop_reason"`
		StopSequence string `json:"stop_sequence"`
	} `json:"delta"`
	Usage *wireUsage `json:"usage"`
}

// decoder translates the Messages stream. Usage: message_start gives the input side and a
// provisional output count; each message_delta gives the cumulative output count.
type decoder struct {
	started  bool
	blocks   []int // content block index → tool index, or -1 for other blocks
	tools    int
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
	var w wireEvent
	if err := json.Unmarshal(ev.Data, &w); err != nil {
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
		if tool := d.tool(w.Index); tool >= 0 {
			s.ToolEnd(tool)
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
		s.Finish(stopReason(d.stop), d.stopSeq)
	}
	return nil
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
		s.Finish(stopReason(d.stop), d.stopSeq)
	}
	return nil
}
