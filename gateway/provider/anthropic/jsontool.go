package anthropic

import (
	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

// jsonToolName is the tool whose forced call carries a JSON answer where output_config.format
// cannot (json_object, or a model without structured outputs). Its input is rendered back to the
// client as the message text, so the client never sees the tool.
const jsonToolName = "json_response"

// useJSONTool reports whether the request's response format goes through the forced tool call.
func useJSONTool(r *llm.Request) bool {
	f := r.ResponseFormat
	return f != nil && (f.Type == llm.FormatJSONObject || !structuredOutputs(r.Model))
}

// addJSONTool declares the tool and forces a call: of it alone when the client offered no tools
// (or tool_choice none), of any tool otherwise (the client's own tool calls stay possible), and
// leaves a named tool choice alone.
func addJSONTool(r *llm.Request, w *wireRequest) {
	f := r.ResponseFormat
	desc, schema := f.Description, f.Schema
	if desc == "" {
		desc = "Give the answer as this tool's input; it is the whole response."
	}
	if len(schema) == 0 {
		schema = anyObject
	}
	w.Tools = append(w.Tools, wireTool{Name: jsonToolName, Description: desc, InputSchema: schema})
	parallel := r.ToolChoice.DisableParallel
	switch {
	case len(r.Tools) == 0 || r.ToolChoice.Mode == llm.ToolChoiceNone:
		w.ToolChoice = &wireToolChoice{Type: "tool", Name: jsonToolName, DisableParallelToolUse: parallel}
	case r.ToolChoice.Mode != llm.ToolChoiceTool:
		w.ToolChoice = &wireToolChoice{Type: "any", DisableParallelToolUse: parallel}
	}
}

// checkJSONTool refuses a client tool that takes the JSON tool's name.
func checkJSONTool(r *llm.Request) error {
	if !useJSONTool(r) {
		return nil
	}
	for _, t := range r.Tools {
		if t.Name == jsonToolName {
			return polydev.Errorf(polydev.EINVALID, "tools: the name %q is reserved on Anthropic models when response_format is set", jsonToolName)
		}
	}
	return nil
}

// unwrapJSONTool turns the JSON tool's call in a response back into text.
func unwrapJSONTool(resp *llm.Response) {
	calls := false
	for i, p := range resp.Content {
		if p.Kind != llm.PartToolCall {
			continue
		}
		if p.ToolCall.Name == jsonToolName {
			resp.Content[i] = llm.TextPart(string(p.ToolCall.Arguments))
		} else {
			calls = true
		}
	}
	if resp.StopReason == llm.StopToolUse && !calls {
		resp.StopReason = llm.StopEndTurn
	}
}

// jsonToolStream turns the JSON tool's call events into text events, renumbering the client's
// own calls so that their indexes stay 0, 1, ...
type jsonToolStream struct {
	llm.Stream
	jsonIndex int         // upstream index of the JSON tool's call; -1 while none started
	renumber  map[int]int // upstream index → index given to the client
	calls     int         // client-visible calls started
}

func newJSONToolStream(s llm.Stream) *jsonToolStream {
	return &jsonToolStream{Stream: s, jsonIndex: -1, renumber: map[int]int{}}
}

func (s *jsonToolStream) Next() (llm.Event, error) {
	for {
		ev, err := s.Stream.Next()
		if err != nil {
			return ev, err
		}
		switch ev.Kind {
		case llm.EventToolStart:
			if ev.Name == jsonToolName {
				s.jsonIndex = ev.Index
				continue
			}
			s.renumber[ev.Index] = s.calls
			s.calls++
		case llm.EventToolDelta, llm.EventToolEnd:
			if ev.Index == s.jsonIndex {
				if ev.Kind == llm.EventToolEnd || ev.Text == "" {
					continue
				}
				return llm.Event{Kind: llm.EventText, Text: ev.Text}, nil
			}
		case llm.EventStop:
			if ev.Stop == llm.StopToolUse && s.calls == 0 {
				ev.Stop = llm.StopEndTurn
			}
			return ev, nil
		default:
			return ev, nil
		}
		ev.Index = s.renumber[ev.Index]
		return ev, nil
	}
}

// NotifyWait passes the relay's wait hook to the adapter's stream (llm.WaitNotifier).
func (s *jsonToolStream) NotifyWait(f func()) {
	if wn, ok := s.Stream.(llm.WaitNotifier); ok {
		wn.NotifyWait(f)
	}
}
