package llm

// ImageTokens is what EstimateRequestTokens counts for an image: about what a provider charges
// for a picture of a megapixel or so (Anthropic: width × height / 750).
const ImageTokens = 1600

// EstimateRequestTokens estimates the input tokens of r without asking a provider: EstimateTokens
// of the bytes of its system prompt, texts, tool definitions, tool calls and results, plus
// ImageTokens per image and EstimateTokens of a document's encoded size. It is for answering a
// token count where the provider has no counting endpoint (OpenAI's chat models); it is never
// used for billing.
func EstimateRequestTokens(r *Request) int {
	n := len(r.System)
	for _, t := range r.Tools {
		n += len(t.Name) + len(t.Description) + len(t.Parameters)
	}
	images := 0
	var parts func([]Part)
	parts = func(ps []Part) {
		for _, p := range ps {
			switch p.Kind {
			case PartText:
				n += len(p.Text)
			case PartImage:
				images++
			case PartDocument:
				n += len(p.Document.Data)
			case PartToolCall:
				n += len(p.ToolCall.Name) + len(p.ToolCall.Arguments)
			case PartToolResult:
				parts(p.ToolResult.Content)
			}
		}
	}
	for _, m := range r.Messages {
		parts(m.Content)
	}
	return EstimateTokens(n) + images*ImageTokens
}
