package passthrough

import (
	"bytes"
	"encoding/json"
)

// Member finds the top-level member name of a JSON object body and returns the byte span of its
// value ([start, end)); ok is false when the object has no such member or body is not an object.
// It is Peek's structural scan: for the few rewrites a format allows beside the model (OpenAI's
// stream_options), made on the bytes without re-encoding the body.
func Member(body []byte, name string) (start, end int, ok bool) {
	i := ws(body, 0)
	if i >= len(body) || body[i] != '{' {
		return 0, 0, false
	}
	i = ws(body, i+1)
	for i < len(body) && body[i] == '"' {
		kEnd, ok := skipString(body, i)
		if !ok {
			return 0, 0, false
		}
		key := body[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			if json.Unmarshal(body[i:kEnd], &k) != nil {
				return 0, 0, false
			}
			key = []byte(k)
		}
		i = ws(body, kEnd)
		if i >= len(body) || body[i] != ':' {
			return 0, 0, false
		}
		vStart := ws(body, i+1)
		vEnd, ok := skipValue(body, vStart)
		if !ok {
			return 0, 0, false
		}
		if string(key) == name {
			return vStart, vEnd, true
		}
		i = ws(body, vEnd)
		if i >= len(body) || body[i] != ',' {
			return 0, 0, false
		}
		i = ws(body, i+1)
	}
	return 0, 0, false
}
