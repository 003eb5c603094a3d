package anthropic

import "github.com/polydev/polydev/gateway/internal/jsonscan"

// scanUsage reads a usage object (or null: nil) at the scanner's position, as encoding/json would
// into *wireUsage, keys matched exactly: absent or null members stay nil, an integer member that is
// not an integer fails, other members are skipped (validated). It is on every passthrough answer's
// path (meter.findUsage), where encoding/json's reflection was most of reading the usage.
func scanUsage(sc *jsonscan.Scanner) (*wireUsage, error) {
	if sc.Null() {
		return nil, nil
	}
	if !sc.Object() {
		return nil, errBadUsage
	}
	u := new(wireUsage)
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		switch string(key) {
		case "input_tokens":
			u.InputTokens = scanIntOrNull(sc)
		case "output_tokens":
			u.OutputTokens = scanIntOrNull(sc)
		case "cache_creation_input_tokens":
			u.CacheCreationInputTokens = scanIntOrNull(sc)
		case "cache_read_input_tokens":
			u.CacheReadInputTokens = scanIntOrNull(sc)
		case "server_tool_use":
			if sc.Null() {
				u.ServerToolUse = nil
				continue
			}
			if !sc.Object() {
				return nil, errBadUsage
			}
			st := u.ServerToolUse
			if st == nil {
				st = new(struct {
					WebSearchRequests *int `json:"web_search_requests"`
				})
				u.ServerToolUse = st
			}
			for {
				k, ok := sc.Key()
				if !ok {
					break
				}
				if string(k) == "web_search_requests" {
					st.WebSearchRequests = scanIntOrNull(sc)
				} else {
					sc.Skip()
				}
			}
		default:
			sc.Skip()
		}
	}
	if sc.Err() != nil {
		return nil, errBadUsage
	}
	return u, nil
}

// scanIntOrNull reads an integer (nil for null); on anything else the scanner fails.
func scanIntOrNull(sc *jsonscan.Scanner) *int {
	if sc.Null() {
		return nil
	}
	n := sc.Int()
	return &n
}
