package gemini

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// decoder translates streamGenerateContent?alt=sse: every event is a whole GenerateContentResponse
// chunk; function calls arrive whole; the last chunk carries finishReason and the final
// usageMetadata, and the body simply ends (there is no end marker).
type decoder struct {
	started bool
	tools   int
	finish  string
	blocked bool
}

func (d *decoder) Event(s *upstream.Stream, ev sse.Event) error {
	var w wireResponse
	if err := json.Unmarshal(ev.Data, &w); err != nil {
		return err
	}
	if w.Error != nil {
		return streamError(w.Error)
	}
	if w.UsageMetadata != nil {
		in, out := w.UsageMetadata.apply(s.Reported())
		if in {
			s.SetInputKnown()
		}
		s.SetOutputKnown(out)
	}
	if !d.started {
		d.started = true
		s.Start(w.ResponseID, w.ModelVersion)
	}
	if w.PromptFeedback != nil && w.PromptFeedback.BlockReason != "" {
		d.blocked = true
	}
	if len(w.Candidates) == 0 {
		return nil
	}
	c := &w.Candidates[0]
	if c.Content != nil {
		for i := range c.Content.Parts {
			p := &c.Content.Parts[i]
			switch {
			case p.FunctionCall != nil:
				tc := toolCall(p.FunctionCall)
				s.ToolStart(d.tools, tc.ID, tc.Name)
				s.ToolDelta(d.tools, string(tc.Arguments))
				s.ToolEnd(d.tools)
				d.tools++
			case !p.Thought:
				s.Text(p.Text)
			}
		}
	}
	if c.FinishReason != "" {
		d.finish = c.FinishReason
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
