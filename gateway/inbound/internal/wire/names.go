package wire

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/llm"
)

// ValidToolName reports whether s is a tool name every provider accepts: 1 to 64 letters, digits,
// underscores or dashes (OpenAI's rule, the strictest of the three).
func ValidToolName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// IsObject reports whether raw is a JSON object (not null, an array or a scalar).
func IsObject(raw json.RawMessage) bool {
	var v map[string]json.RawMessage
	return json.Unmarshal(raw, &v) == nil && v != nil
}

// StringToolChoice applies a tool_choice written as a string, as the OpenAI shapes (Chat
// Completions, Responses) write it: "auto", "none" or "required" (which needs tools). isString is
// false when raw is not a string: the caller reads its object form.
func StringToolChoice(raw json.RawMessage, r *llm.Request) (isString bool, err error) {
	var mode string
	if json.Unmarshal(raw, &mode) != nil {
		return false, nil
	}
	switch mode {
	case "auto", "none", "required":
		r.ToolChoice.Mode = llm.ToolChoiceMode(mode)
	default:
		return true, Invalid("tool_choice", "must be \"none\", \"auto\", \"required\" or a function")
	}
	if mode == "required" && len(r.Tools) == 0 {
		return true, Invalid("tool_choice", "\"required\" needs tools")
	}
	return true, nil
}
