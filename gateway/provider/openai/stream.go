package openai

import (
	"strconv"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// decoder translates chat.completion.chunk events. The stop event is held from finish_reason
// until [DONE], because the usage chunk OpenAI sends with include_usage comes between them.
type decoder struct {
	p       parser
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
	if err := d.p.parse(ev.Data, !d.begun); err != nil {
		return err
	}
	c := &d.p.c
	if c.Error != nil {
		return streamError(c.Error)
	}
	if !d.begun {
		d.begun = true
		s.Start(c.ID, c.Model)
	}
	if c.HasChoice {
		ch := &c.Choice
		s.Text(ch.Content)
		if ch.Refusal != "" {
			d.refused = true
			s.Text(ch.Refusal)
		}
		for j := range ch.ToolCalls {
			d.toolDelta(s, &ch.ToolCalls[j])
		}
		if ch.Finish != "" {
			d.finish = ch.Finish
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

func (d *decoder) toolDelta(s *upstream.Stream, tc *toolDelta) {
	idx := len(d.tools)
	if tc.HasIndex {
		idx = tc.Index
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
		s.ToolStart(t.canon, id, tc.Name)
	}
	if t.open {
		s.ToolDelta(t.canon, tc.Arguments)
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
