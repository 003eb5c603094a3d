package wire

import "encoding/json"

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
