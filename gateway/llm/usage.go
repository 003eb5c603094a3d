package llm

// Usage is token accounting for one generation, normalized so that cost is computed the same way
// for every provider and nothing is counted twice:
//
//	cost = UncachedInputTokens() × input price
//	     + CacheReadTokens       × cache-read price
//	     + CacheWriteTokens      × cache-write price
//	     + OutputTokens          × output price      (reasoning included: it is billed as output)
//
// InputTokens and OutputTokens are totals; the other three counts are subsets of them, never
// additions:
//
//	InputTokens  ⊇ CacheReadTokens + CacheWriteTokens
//	OutputTokens ⊇ ReasoningTokens
//
// From the providers' fields:
//
//	OpenAI:    Input = prompt_tokens, CacheRead = prompt_tokens_details.cached_tokens,
//	           Output = completion_tokens, Reasoning = completion_tokens_details.reasoning_tokens
//	Anthropic: Input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens,
//	           CacheRead = cache_read_input_tokens, CacheWrite = cache_creation_input_tokens,
//	           Output = output_tokens (thinking included; Anthropic reports no separate count)
//	Gemini:    Input = promptTokenCount + toolUsePromptTokenCount,
//	           CacheRead = cachedContentTokenCount,
//	           Output = candidatesTokenCount + thoughtsTokenCount, Reasoning = thoughtsTokenCount
//
// A number the provider did not report is estimated at about four bytes per token
// (EstimateTokens) and flagged, so billing never silently drops a request and never mistakes an
// estimate for a measurement.
type Usage struct {
	InputTokens      int // all prompt tokens, cached and cache-written ones included
	OutputTokens     int // all generated tokens, reasoning included
	CacheReadTokens  int // part of InputTokens: read from the provider's prompt cache
	CacheWriteTokens int // part of InputTokens: written to the prompt cache (Anthropic)
	ReasoningTokens  int // part of OutputTokens: spent thinking (OpenAI o-series, Gemini thoughts)
	// WebSearches counts the provider's server-side web searches (Anthropic's web_search tool,
	// usage.server_tool_use.web_search_requests), billed per search beside the tokens.
	WebSearches int

	// Partial means the generation did not finish normally (the client cancelled, the upstream
	// failed or cut the stream): the numbers cover what was produced until then, which is what the
	// request is billed for.
	Partial bool
	// InputEstimated means the provider had not reported input tokens (OpenAI reports them only at
	// the end of a stream; some OpenAI-compatible servers never do): InputTokens is estimated from
	// the size of the request body sent upstream.
	InputEstimated bool
	// OutputEstimated means the provider had not reported the output count for what was produced
	// (a stream cut before Anthropic's message_delta or OpenAI's usage chunk, a server without
	// usage): OutputTokens is the larger of the last count reported and an estimate from the
	// bytes of text and tool arguments received.
	OutputEstimated bool
}

// UncachedInputTokens is the input billed at the base input price.
func (u Usage) UncachedInputTokens() int {
	return max(0, u.InputTokens-u.CacheReadTokens-u.CacheWriteTokens)
}

// TotalTokens is InputTokens + OutputTokens.
func (u Usage) TotalTokens() int { return u.InputTokens + u.OutputTokens }

// Estimated reports whether any count is an estimate.
func (u Usage) Estimated() bool { return u.InputEstimated || u.OutputEstimated }

// EstimateTokens estimates the tokens in n bytes of text or JSON: about four bytes per token for
// English and code (tokenizers differ; this is a billing fallback, not a measurement).
func EstimateTokens(n int) int {
	if n <= 0 {
		return 0
	}
	return (n + 3) / 4
}
