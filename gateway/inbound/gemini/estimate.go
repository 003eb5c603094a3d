package gemini

import "github.com/polydev/polydev/gateway/llm"

// imageTokens is what Gemini counts for an image of up to 384×384 pixels (larger ones are tiled
// into more): the estimate's figure for every image.
const imageTokens = 258

// EstimateTokens estimates the prompt tokens of r for countTokens on a model whose provider has no
// token counting endpoint: about four bytes per token of text, tool calls, results and
// declarations (llm.EstimateTokens), and a fixed count per image. It is an estimate, not the
// upstream tokenizer's count.
func EstimateTokens(r *llm.Request) int {
	n, images := len(r.System), 0
	count := func(p llm.Part) {
		switch p.Kind {
		case llm.PartText:
			n += len(p.Text)
		case llm.PartImage:
			images++
		case llm.PartToolCall:
			n += len(p.ToolCall.Name) + len(p.ToolCall.Arguments)
		}
	}
	for _, m := range r.Messages {
		for _, p := range m.Content {
			count(p)
			if p.Kind == llm.PartToolResult {
				n += len(p.ToolResult.Name)
				for _, c := range p.ToolResult.Content {
					count(c)
				}
			}
		}
	}
	for _, t := range r.Tools {
		n += len(t.Name) + len(t.Description) + len(t.Parameters)
	}
	return llm.EstimateTokens(n) + images*imageTokens
}
