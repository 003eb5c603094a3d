package anthropic

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

// wireUsage is Anthropic's usage object. Pointers tell "absent" from 0 in message_delta, which
// carries the input side only in newer API versions.
type wireUsage struct {
	InputTokens              *int `json:"input_tokens"`
	OutputTokens             *int `json:"output_tokens"`
	CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
	// ServerToolUse counts the server tools' requests (billed per request, beside the tokens):
	// web_search_requests, web_fetch_requests (fetches cost tokens only, not counted).
	ServerToolUse *struct {
		WebSearchRequests *int `json:"web_search_requests"`
	} `json:"server_tool_use"`
}

func val(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// applyInput sets the input side of u from w: Anthropic's input_tokens excludes cached and
// cache-written tokens, llm.Usage.InputTokens includes them. The web searches of server tools,
// cumulative like the rest, are taken wherever they appear.
func (w *wireUsage) applyInput(u *llm.Usage) bool {
	if st := w.ServerToolUse; st != nil && st.WebSearchRequests != nil {
		u.WebSearches = *st.WebSearchRequests
	}
	if w.InputTokens == nil && w.CacheReadInputTokens == nil && w.CacheCreationInputTokens == nil {
		return false
	}
	u.CacheReadTokens = val(w.CacheReadInputTokens)
	u.CacheWriteTokens = val(w.CacheCreationInputTokens)
	u.InputTokens = val(w.InputTokens) + u.CacheReadTokens + u.CacheWriteTokens
	return true
}

type wireContent struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

type wireResponse struct {
	ID           string        `json:"id"`
	Model        string        `json:"model"`
	Content      []wireContent `json:"content"`
	StopReason   string        `json:"stop_reason"`
	StopSequence string        `json:"stop_sequence"`
	Usage        *wireUsage    `json:"usage"`
}

func decodeResponse(body []byte, requestBytes int) (*llm.Response, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	resp := &llm.Response{ID: w.ID, Model: w.Model, StopReason: stopReason(w.StopReason), StopSequence: w.StopSequence}
	produced := 0
	for _, c := range w.Content {
		switch c.Type {
		case "text":
			produced += len(c.Text)
			resp.Content = append(resp.Content, llm.TextPart(c.Text))
		case "tool_use":
			args := c.Input
			if len(args) == 0 {
				args = json.RawMessage("{}")
			}
			produced += len(c.Name) + len(args)
			resp.Content = append(resp.Content, llm.Part{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: c.ID, Name: c.Name, Arguments: args}})
		}
		// thinking and redacted_thinking blocks are not part of the canonical model (yet).
	}
	inKnown, outKnown := false, false
	if w.Usage != nil {
		inKnown = w.Usage.applyInput(&resp.Usage)
		if w.Usage.OutputTokens != nil {
			resp.Usage.OutputTokens, outKnown = *w.Usage.OutputTokens, true
		}
	}
	upstream.FinishUsage(&resp.Usage, inKnown, outKnown, requestBytes, produced)
	return resp, nil
}

func stopReason(s string) llm.StopReason {
	switch s {
	case "max_tokens", "model_context_window_exceeded":
		return llm.StopMaxTokens
	case "tool_use":
		return llm.StopToolUse
	case "stop_sequence":
		return llm.StopSequence
	case "refusal":
		return llm.StopContentFilter
	}
	return llm.StopEndTurn // end_turn, pause_turn
}
