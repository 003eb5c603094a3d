package openai

import (
	"encoding/json"
	"fmt"

	"github.com/polydev/polydev/gateway/internal/jsonscan"
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

// wireResponse is a chat.completion as the adapter needs it: choices[0] only.
type wireResponse struct {
	ID, Model    string
	HasChoice    bool
	Content      json.RawMessage // a string, null, or (some servers) text parts
	Refusal      string
	ToolCalls    []wireToolCall
	FinishReason string
	Usage        *wireUsage
}

// parse reads a response body without reflection (it was the largest single cost of a
// non-streamed request). It keeps encoding/json's reading of the members it takes, with the
// scanner's two differences (exact keys, invalid UTF-8 passed on; see jsonscan): null is an absent
// value, and a value of another type is an error.
func (w *wireResponse) parse(body []byte) error {
	var sc jsonscan.Scanner
	sc.Reset(body)
	if !sc.Object() {
		return sc.Err()
	}
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			w.ID = sc.StringOrNull()
		case "model":
			w.Model = sc.StringOrNull()
		case "choices":
			if sc.Null() || !sc.Array() {
				continue
			}
			for sc.Elem() {
				if w.HasChoice {
					sc.Skip()
					continue
				}
				w.HasChoice = true
				w.choice(&sc)
			}
		case "usage":
			if sc.Null() {
				continue
			}
			w.Usage = new(wireUsage)
			w.Usage.parse(&sc)
		default:
			sc.Skip()
		}
	}
	return sc.End()
}

func (w *wireResponse) choice(sc *jsonscan.Scanner) {
	if sc.Null() || !sc.Object() {
		return
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return
		}
		switch string(key) {
		case "message":
			w.message(sc)
		case "finish_reason":
			w.FinishReason = finishReason(sc)
		default:
			sc.Skip()
		}
	}
}

func (w *wireResponse) message(sc *jsonscan.Scanner) {
	if sc.Null() || !sc.Object() {
		return
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return
		}
		switch string(key) {
		case "content":
			w.Content = sc.Skip()
		case "refusal":
			w.Refusal = sc.StringOrNull()
		case "tool_calls":
			w.ToolCalls = w.ToolCalls[:0]
			if sc.Null() || !sc.Array() {
				continue
			}
			for sc.Elem() {
				w.ToolCalls = append(w.ToolCalls, wireToolCall{})
				w.ToolCalls[len(w.ToolCalls)-1].parse(sc)
			}
		default:
			sc.Skip()
		}
	}
}

func (t *wireToolCall) parse(sc *jsonscan.Scanner) {
	if sc.Null() || !sc.Object() {
		return
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return
		}
		switch string(key) {
		case "id":
			t.ID = sc.StringOrNull()
		case "type":
			t.Type = sc.StringOrNull()
		case "function":
			function(sc, &t.Function.Name, &t.Function.Arguments)
		default:
			sc.Skip()
		}
	}
}

// parse reads a usage object (the scanner is positioned at it).
func (u *wireUsage) parse(sc *jsonscan.Scanner) {
	if !sc.Object() {
		return
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return
		}
		switch string(key) {
		case "prompt_tokens":
			u.PromptTokens = intOrNull(sc)
		case "completion_tokens":
			u.CompletionTokens = intOrNull(sc)
		case "prompt_tokens_details", "completion_tokens_details":
			prompt := string(key) == "prompt_tokens_details"
			if sc.Null() || !sc.Object() {
				continue
			}
			if prompt {
				u.PromptTokensDetails = &struct {
					CachedTokens int `json:"cached_tokens"`
				}{}
			} else {
				u.CompletionTokensDetails = &struct {
					ReasoningTokens int `json:"reasoning_tokens"`
				}{}
			}
			for {
				dk, ok := sc.Key()
				if !ok {
					break
				}
				switch {
				case prompt && string(dk) == "cached_tokens":
					u.PromptTokensDetails.CachedTokens = intOrNull(sc)
				case !prompt && string(dk) == "reasoning_tokens":
					u.CompletionTokensDetails.ReasoningTokens = intOrNull(sc)
				default:
					sc.Skip()
				}
			}
		default:
			sc.Skip()
		}
	}
}

func intOrNull(sc *jsonscan.Scanner) int {
	if sc.Null() {
		return 0
	}
	return sc.Int()
}

func decodeResponse(body []byte, requestBytes int) (*llm.Response, error) {
	var w wireResponse
	if err := w.parse(body); err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	if !w.HasChoice {
		return nil, upstream.Malformed(Name, false, fmt.Errorf("no choices"))
	}
	resp := &llm.Response{ID: w.ID, Model: w.Model, StopReason: stopReason(w.FinishReason)}
	text, err := contentText(w.Content)
	if err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	if w.Refusal != "" {
		text += w.Refusal
		resp.StopReason = llm.StopContentFilter
	}
	produced := len(text)
	if text != "" {
		resp.Content = append(resp.Content, llm.TextPart(text))
	}
	for i, tc := range w.ToolCalls {
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
		var sc jsonscan.Scanner
		sc.Reset(raw)
		s := sc.String()
		return s, sc.Err()
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
