package openai

import (
	"encoding/json"
	"fmt"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

type wireUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (w *wireUsage) canonical() llm.Usage {
	u := llm.Usage{InputTokens: w.PromptTokens, OutputTokens: w.CompletionTokens}
	if d := w.PromptTokensDetails; d != nil {
		u.CacheReadTokens = d.CachedTokens
	}
	if d := w.CompletionTokensDetails; d != nil {
		u.ReasoningTokens = d.ReasoningTokens
	}
	return u
}

type wireResponse struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content   json.RawMessage `json:"content"` // a string, null, or (some servers) text parts
			Refusal   *string         `json:"refusal"`
			ToolCalls []wireToolCall  `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage `json:"usage"`
}

func decodeResponse(body []byte, requestBytes int) (*llm.Response, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	if len(w.Choices) == 0 {
		return nil, upstream.Malformed(Name, false, fmt.Errorf("no choices"))
	}
	ch := &w.Choices[0]
	resp := &llm.Response{ID: w.ID, Model: w.Model, StopReason: stopReason(ch.FinishReason)}
	text, err := contentText(ch.Message.Content)
	if err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	if ch.Message.Refusal != nil && *ch.Message.Refusal != "" {
		text += *ch.Message.Refusal
		resp.StopReason = llm.StopContentFilter
	}
	produced := len(text)
	if text != "" {
		resp.Content = append(resp.Content, llm.TextPart(text))
	}
	for i, tc := range ch.Message.ToolCalls {
		args := tc.Function.Arguments
		if args == "" {
			args = "{}"
		}
		id := tc.ID
		if id == "" {
			id = fmt.Sprintf("call_%d", i)
		}
		produced += len(tc.Function.Name) + len(args)
		resp.Content = append(resp.Content, llm.Part{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: id, Name: tc.Function.Name, Arguments: json.RawMessage(args)}})
	}
	if w.Usage != nil {
		resp.Usage = w.Usage.canonical()
	}
	upstream.FinishUsage(&resp.Usage, w.Usage != nil, w.Usage != nil, requestBytes, produced)
	return resp, nil
}

// contentText reads message content: a string, null, or an array of {"type":"text"} parts.
func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", err
	}
	var s string
	for _, p := range parts {
		if p.Type == "text" {
			s += p.Text
		}
	}
	return s, nil
}

// stopReason maps finish_reason. OpenAI reports a matched stop sequence as "stop" too, so
// StopSequence never comes from this provider.
func stopReason(finish string) llm.StopReason {
	switch finish {
	case "length":
		return llm.StopMaxTokens
	case "tool_calls", "function_call":
		return llm.StopToolUse
	case "content_filter":
		return llm.StopContentFilter
	}
	return llm.StopEndTurn
}
