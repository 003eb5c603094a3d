package gemini

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

type wireUsage struct {
	PromptTokenCount        *int `json:"promptTokenCount"`
	CandidatesTokenCount    *int `json:"candidatesTokenCount"`
	CachedContentTokenCount int  `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int  `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount int  `json:"toolUsePromptTokenCount"`
}

// apply copies w into u and reports which sides it covers. candidatesTokenCount excludes thoughts;
// llm.Usage.OutputTokens includes them.
func (w *wireUsage) apply(u *llm.Usage) (input, output bool) {
	if w.PromptTokenCount != nil {
		u.InputTokens = *w.PromptTokenCount + w.ToolUsePromptTokenCount
		u.CacheReadTokens = w.CachedContentTokenCount
		input = true
	}
	u.ReasoningTokens = w.ThoughtsTokenCount
	u.OutputTokens = w.ThoughtsTokenCount
	if w.CandidatesTokenCount != nil {
		u.OutputTokens += *w.CandidatesTokenCount
		output = true
	}
	return input, output
}

type wireRespPart struct {
	Text         string            `json:"text"`
	Thought      bool              `json:"thought"`
	FunctionCall *wireFunctionCall `json:"functionCall"`
}

type wireResponse struct {
	Candidates []struct {
		Content *struct {
			Parts []wireRespPart `json:"parts"`
		} `json:"content"`
		FinishReason string `json:"finishReason"`
	} `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *wireUsage `json:"usageMetadata"`
	ModelVersion  string     `json:"modelVersion"`
	ResponseID    string     `json:"responseId"`
	Error         *wireError `json:"error"` // in a stream, after a 200
}

func decodeResponse(body []byte, requestBytes int) (*llm.Response, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	resp := &llm.Response{ID: w.ResponseID, Model: w.ModelVersion}
	produced, calls := 0, 0
	finish := ""
	if len(w.Candidates) > 0 {
		c := &w.Candidates[0]
		finish = c.FinishReason
		if c.Content != nil {
			for _, p := range c.Content.Parts {
				switch {
				case p.FunctionCall != nil:
					tc := toolCall(p.FunctionCall)
					produced += len(tc.Name) + len(tc.Arguments)
					calls++
					resp.Content = append(resp.Content, llm.Part{Kind: llm.PartToolCall, ToolCall: tc})
				case p.Thought:
					// thought summaries are not forwarded
				case p.Text != "":
					produced += len(p.Text)
					if n := len(resp.Content); n > 0 && resp.Content[n-1].Kind == llm.PartText {
						resp.Content[n-1].Text += p.Text
					} else {
						resp.Content = append(resp.Content, llm.TextPart(p.Text))
					}
				}
			}
		}
	}
	blocked := w.PromptFeedback != nil && w.PromptFeedback.BlockReason != ""
	resp.StopReason = stopReason(finish, calls > 0, blocked)
	inKnown, outKnown := false, false
	if w.UsageMetadata != nil {
		inKnown, outKnown = w.UsageMetadata.apply(&resp.Usage)
	}
	upstream.FinishUsage(&resp.Usage, inKnown, outKnown, requestBytes, produced)
	return resp, nil
}

func toolCall(fc *wireFunctionCall) *llm.ToolCall {
	id := fc.ID
	if id == "" {
		id = newCallID()
	}
	args := fc.Args
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	return &llm.ToolCall{ID: id, Name: fc.Name, Arguments: args}
}

// newCallID makes a unique tool call id in the style both inbound shapes accept.
func newCallID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "call_" + hex.EncodeToString(b[:])
}

// stopReason maps finishReason. Gemini says STOP also after function calls.
func stopReason(finish string, calls, blocked bool) llm.StopReason {
	switch finish {
	case "STOP", "":
		switch {
		case calls:
			return llm.StopToolUse
		case blocked:
			return llm.StopContentFilter
		}
		return llm.StopEndTurn
	case "MAX_TOKENS":
		return llm.StopMaxTokens
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION":
		return llm.StopContentFilter
	}
	return llm.StopError // MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, LANGUAGE, OTHER, ...
}
