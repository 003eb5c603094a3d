package gemini

import (
	"net/http"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/internal/jsonw"
	"github.com/polydev/polydev/gateway/llm"
)

// FinishReason maps a stop reason to Gemini's finishReason. Gemini says STOP also after function
// calls and stop sequences.
func FinishReason(r llm.StopReason) string {
	switch r {
	case llm.StopMaxTokens:
		return "MAX_TOKENS"
	case llm.StopContentFilter:
		return "SAFETY"
	case llm.StopError:
		return "OTHER"
	}
	return "STOP"
}

// appendUsage appends usageMetadata. promptTokenCount includes cached tokens, as Gemini's does;
// candidatesTokenCount excludes thoughts, which thoughtsTokenCount reports.
func appendUsage(b []byte, u llm.Usage) []byte {
	b = append(b, `{"promptTokenCount":`...)
	b = jsonw.Int(b, u.InputTokens)
	b = append(b, `,"candidatesTokenCount":`...)
	b = jsonw.Int(b, max(0, u.OutputTokens-u.ReasoningTokens))
	b = append(b, `,"totalTokenCount":`...)
	b = jsonw.Int(b, u.TotalTokens())
	if u.CacheReadTokens > 0 {
		b = append(b, `,"cachedContentTokenCount":`...)
		b = jsonw.Int(b, u.CacheReadTokens)
	}
	if u.ReasoningTokens > 0 {
		b = append(b, `,"thoughtsTokenCount":`...)
		b = jsonw.Int(b, u.ReasoningTokens)
	}
	return append(b, '}')
}

func appendFunctionCall(b []byte, id, name string, args []byte) []byte {
	b = append(b, `{"functionCall":{"id":`...)
	b = jsonw.String(b, id)
	b = append(b, `,"name":`...)
	b = jsonw.String(b, name)
	b = append(b, `,"args":`...)
	b = jsonw.Object(b, args)
	return append(b, `}}`...)
}

func appendText(b []byte, s string) []byte {
	b = append(b, `{"text":`...)
	b = jsonw.String(b, s)
	return append(b, '}')
}

// candidate is what one response (or chunk) says: its parts (already rendered, comma-separated) and,
// on the last, the finish reason and the usage.
type candidate struct {
	parts  []byte
	finish string
	usage  *llm.Usage
	model  string
	id     string
}

func appendCandidate(b []byte, c *candidate) []byte {
	b = append(b, `{"candidates":[{"content":{"parts":[`...)
	if len(c.parts) == 0 {
		b = append(b, `{"text":""}`...)
	} else {
		b = append(b, c.parts...)
	}
	b = append(b, `],"role":"model"}`...)
	if c.finish != "" {
		b = append(b, `,"finishReason":`...)
		b = jsonw.String(b, c.finish)
	}
	b = append(b, `,"index":0}]`...)
	if c.usage != nil {
		b = append(b, `,"usageMetadata":`...)
		b = appendUsage(b, *c.usage)
	}
	b = append(b, `,"modelVersion":`...)
	b = jsonw.String(b, c.model)
	b = append(b, `,"responseId":`...)
	b = jsonw.String(b, c.id)
	return append(b, '}')
}

// AppendResponse appends resp as a GenerateContentResponse.
func AppendResponse(b []byte, resp *llm.Response) []byte {
	var parts []byte
	for _, p := range resp.Content {
		switch p.Kind {
		case llm.PartText:
			if p.Text == "" {
				continue
			}
			if len(parts) > 0 {
				parts = append(parts, ',')
			}
			parts = appendText(parts, p.Text)
		case llm.PartToolCall:
			if len(parts) > 0 {
				parts = append(parts, ',')
			}
			parts = appendFunctionCall(parts, p.ToolCall.ID, p.ToolCall.Name, p.ToolCall.Arguments)
		}
	}
	id := resp.ID
	if id == "" {
		id = wire.NewID("")
	}
	u := resp.Usage
	return appendCandidate(b, &candidate{parts: parts, finish: FinishReason(resp.StopReason), usage: &u, model: resp.Model, id: id})
}

// WriteResponse writes resp as a generateContent JSON response.
func WriteResponse(w http.ResponseWriter, resp *llm.Response) error {
	return wire.WriteJSON(w, AppendResponse(make([]byte, 0, 512), resp))
}

// WriteCountTokens writes a countTokens answer.
func WriteCountTokens(w http.ResponseWriter, total int) error {
	b := append(make([]byte, 0, 32), `{"totalTokens":`...)
	b = jsonw.Int(b, total)
	return wire.WriteJSON(w, append(b, '}'))
}
