package llm

// StopReason is why generation ended, normalized across providers (names follow Anthropic's).
type StopReason string

// Stop reasons. See gateway/README.md for the mapping from and to each wire format.
const (
	StopEndTurn       StopReason = "end_turn"       // natural end (OpenAI "stop", Gemini STOP)
	StopMaxTokens     StopReason = "max_tokens"     // the output limit was hit (OpenAI "length", Gemini MAX_TOKENS)
	StopToolUse       StopReason = "tool_use"       // the model called tools and waits for results
	StopSequence      StopReason = "stop_sequence"  // a Request.Stop sequence matched (OpenAI reports "stop")
	StopContentFilter StopReason = "content_filter" // the provider's safety system cut or refused the output
	StopError         StopReason = "error"          // the provider ended the output abnormally (Gemini MALFORMED_FUNCTION_CALL, OTHER)
)

// Response is a complete, non-streamed generation.
type Response struct {
	// ID is the provider's response id (chatcmpl-..., msg_..., Gemini responseId).
	ID string
	// Model is the model the provider reports having used.
	Model string
	// Content holds PartText and PartToolCall parts in the order the model produced them.
	Content      []Part
	StopReason   StopReason
	StopSequence string // the matched sequence when the provider reports it (Anthropic)
	Usage        Usage
}

// Text returns the response's text parts concatenated.
func (r *Response) Text() string { return JoinText(r.Content, "") }

// ToolCalls returns the response's tool calls in order.
func (r *Response) ToolCalls() []*ToolCall {
	var out []*ToolCall
	for _, p := range r.Content {
		if p.Kind == PartToolCall {
			out = append(out, p.ToolCall)
		}
	}
	return out
}
