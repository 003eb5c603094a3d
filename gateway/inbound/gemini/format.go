package gemini

import (
	"encoding/json"
	"strings"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// outputFormat reads responseMimeType and the response schemas into llm.ResponseFormat:
// application/json alone is any JSON object, with responseSchema (Gemini's Schema, rewritten) or
// responseJsonSchema (JSON Schema; Gemini CLI writes its types in Gemini's upper case, which is
// lowered) a JSON Schema.
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
	default:
		return wire.Invalid(field+".responseMimeType", "%q cannot be translated for another provider (text/plain or application/json)", g.ResponseMimeType)
	}
	var schema json.RawMessage
	var err error
	switch {
	case hasSchema && hasJSON:
		return wire.Invalid(field, "responseSchema and responseJsonSchema are mutually exclusive")
	case hasSchema:
		schema, err = jsonSchema(field+".responseSchema", g.ResponseSchema)
	case hasJSON:
		schema, err = lowerTypes(field+".responseJsonSchema", g.ResponseJSONSchema)
	default:
		r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject}
		return nil
	}
	if err != nil {
		return err
	}
	r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "response", Schema: schema}
	return nil
}

// thinking maps thinkingConfig: a budget (0 = no thinking, -1 = the model decides, which is the
// default) or a level. Gemini CLI sends it whatever the model, so it is a hint (llm.Reasoning.Hint):
// left out for a model of another provider that cannot reason.
func thinking(field string, t *wireThinkingConfig, r *llm.Request) error {
	if t == nil {
		return nil
	}
	if t.ThinkingLevel != "" {
		switch lv := strings.ToLower(t.ThinkingLevel); lv {
		case llm.EffortMinimal, llm.EffortLow, llm.EffortMedium, llm.EffortHigh:
			r.Reasoning = &llm.Reasoning{Effort: lv, Hint: true}
		case "thinking_level_unspecified":
		default:
			return wire.Invalid(field+".thinkingLevel", "must be MINIMAL, LOW, MEDIUM or HIGH, not %q", t.ThinkingLevel)
		}
		return nil
	}
	switch b := t.ThinkingBudget; {
	case b == nil || *b == -1:
	case *b == 0:
		r.Reasoning = &llm.Reasoning{Effort: llm.EffortNone, Hint: true}
	case *b > 0:
		r.Reasoning = &llm.Reasoning{BudgetTokens: *b, Hint: true}
	default:
		return wire.Invalid(field+".thinkingBudget", "must be -1 (dynamic), 0 (off) or a number of tokens")
	}
	return nil
}

// geminiTypes are Gemini's upper-case type names, which clients also write into JSON Schemas.
var geminiTypes = map[string]bool{"STRING": true, "NUMBER": true, "INTEGER": true, "BOOLEAN": true, "ARRAY": true, "OBJECT": true, "NULL": true}

// lowerTypes is a JSON Schema with Gemini's upper-case type names lowered; nothing else changes.
func lowerTypes(field string, raw json.RawMessage) (json.RawMessage, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, wire.Invalid(field, "must be a JSON Schema object")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, wire.Invalid(field, "must be a JSON Schema object")
	}
	changed := false
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "type" {
					switch t := e.(type) {
					case string:
						if geminiTypes[t] {
							x[k], changed = strings.ToLower(t), true
						}
					case []any:
						for i, s := range t {
							if s, ok := s.(string); ok && geminiTypes[s] {
								t[i], changed = strings.ToLower(s), true
							}
						}
					}
					continue
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	if !changed {
		return raw, nil
	}
	return json.Marshal(v)
}
