package gemini

import (
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// decoder translates streamGenerateContent?alt=sse: every event is a whole GenerateContentResponse
// chunk; function calls arrive whole; the last chunk carries finishReason and the final
// usageMetadata, and the body simply ends (there is no end marker).
type decoder struct {
	p       parser
	started bool
	tools   int
	finish  string
	blocked bool
}

func (d *decoder) Event(s *upstream.Stream, ev sse.Event) error {
	if err := d.p.parse(ev.Data, !d.started); err != nil {
		return err
	}
	c := &d.p.c
	if c.Error != nil {
		return streamError(c.Error)
	}
	if c.HasUsage {
		in, out := c.Usage.apply(s.Reported())
		if in {
			s.SetInputKnown()
		}
		s.SetOutputKnown(out)
	}
	if !d.started {
		d.started = true
		s.Start(c.ResponseID, c.ModelVersion)
	}
	if c.BlockReason != "" {
		d.blocked = true
	}
	for i := range c.Parts {
		p := &c.Parts[i]
		switch {
		case p.Call != nil:
			tc := toolCall(p.Call)
			s.ToolStart(d.tools, tc.ID, tc.Name)
			s.ToolDelta(d.tools, string(tc.Arguments))
			s.ToolEnd(d.tools)
			d.tools++
		case !p.Thought:
			s.Text(p.Text)
		}
	}
	if c.Finish != "" {
		d.finish = c.Finish
	}
	return nil
}

// End finishes the stream when a finish reason (or a blocked prompt) was seen; otherwise the
// stream was cut.
func (d *decoder) End(s *upstream.Stream) error {
	if d.finish != "" || d.blocked {
		if !d.started {
			d.started = true
			s.Start("", "")
		}
		s.Finish(stopReason(d.finish, d.tools > 0, d.blocked), "")
	}
	return nil
}
