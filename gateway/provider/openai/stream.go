package openai

import (
	"encoding/json"
	"strconv"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// wireChunk is one chat.completion.chunk (or an error chunk).
type wireChunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   string         `json:"content"`
			Refusal   string         `json:"refusal"`
			ToolCalls []wireToolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage `json:"usage"`
	Error *wireError `json:"error"`
}

// decoder translates chat.completion.chunk events. The stop event is held from finish_reason
// until [DONE], because the usage chunk OpenAI sends with include_usage comes between them.
type decoder struct {
	begun   bool
	finish  string
	refused bool
	tools   []toolState // by OpenAI tool_calls index
	started int         // tool calls started
}

// toolState tracks one OpenAI tool_calls index. Canonical indexes count calls in the order they
// start, whatever indexes the server uses.
type toolState struct {
	seen, open bool
	canon      int
}

var done = []byte("[DONE]")

func (d *decoder) Event(s *upstream.Stream, ev sse.Event) error {
	if string(ev.Data) == string(done) {
		d.finishStream(s)
		return nil
	}
	var c wireChunk
	if err := json.Unmarshal(ev.Data, &c); err != nil {
		return err
	}
	if c.Error != nil {
		return streamError(c.Error)
	}
	if !d.begun {
		d.begun = true
		s.Start(c.ID, c.Model)
	}
	for i := range c.Choices {
		ch := &c.Choices[i]
		if ch.Index != 0 {
			continue // n > 1 is refused by the inbound codecs; ignore stray choices
		}
		s.Text(ch.Delta.Content)
		if ch.Delta.Refusal != "" {
			d.refused = true
			s.Text(ch.Delta.Refusal)
		}
		for j := range ch.Delta.ToolCalls {
			d.toolDelta(s, &ch.Delta.ToolCalls[j])
		}
		if ch.FinishReason != "" {
			d.finish = ch.FinishReason
			d.closeTools(s)
		}
	}
	if c.Usage != nil {
		*s.Reported() = c.Usage.canonical()
		s.SetInputKnown()
		s.SetOutputKnown(true)
	}
	return nil
}

func (d *decoder) toolDelta(s *upstream.Stream, tc *wireToolCall) {
	idx := len(d.tools)
	if tc.Index != nil {
		idx = *tc.Index
	}
	if idx < 0 || idx > 1024 {
		return // nonsense index: drop rather than grow without bound
	}
	for len(d.tools) <= idx {
		d.tools = append(d.tools, toolState{})
	}
	t := &d.tools[idx]
	if !t.seen {
		// OpenAI streams parallel calls one after another: a new call ends the previous ones.
		d.closeTools(s)
		t.seen, t.open, t.canon = true, true, d.started
		d.started++
		id := tc.ID
		if id == "" {
			id = "call_" + strconv.Itoa(t.canon)
		}
		s.ToolStart(t.canon, id, tc.Function.Name)
	}
	if t.open {
		s.ToolDelta(t.canon, tc.Function.Arguments)
	}
}

// closeTools ends every open call.
func (d *decoder) closeTools(s *upstream.Stream) {
	for i := range d.tools {
		if d.tools[i].open {
			d.tools[i].open = false
			s.ToolEnd(d.tools[i].canon)
		}
	}
}

func (d *decoder) finishStream(s *upstream.Stream) {
	if !d.begun {
		d.begun = true
		s.Start("", "")
	}
	d.closeTools(s)
	reason := stopReason(d.finish)
	if d.refused {
		reason = llm.StopContentFilter
	}
	s.Finish(reason, "")
}

// End accepts a body that ends after a finish_reason without [DONE] (some compatible servers);
// anything else is a truncated stream.
func (d *decoder) End(s *upstream.Stream) error {
	if d.finish != "" {
		d.finishStream(s)
	}
	return nil
}
