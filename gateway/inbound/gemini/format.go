package gemini

import (
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// outputFormat reads responseMimeType and the response schemas.
func outputFormat(field string, g *wireGenConfig, r *llm.Request) error {
	hasSchema := len(g.ResponseSchema) > 0 && string(g.ResponseSchema) != "null"
	hasJSON := len(g.ResponseJSONSchema) > 0 && string(g.ResponseJSONSchema) != "null"
	switch g.ResponseMimeType {
	case "", "text/plain":
		if hasSchema || hasJSON {
			return wire.Invalid(field+".responseMimeType", "a response schema needs application/json")
		}
		return nil
	case "application/json":
		return crossOnly(field+".responseMimeType", "JSON output")
	}
	return wire.Invalid(field+".responseMimeType", "%q cannot be translated for another provider (text/plain or application/json)", g.ResponseMimeType)
}
