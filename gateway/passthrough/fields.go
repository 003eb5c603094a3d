package passthrough

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/polydev/polydev"
)

// Fields are the top-level members of a request body the gateway itself needs: which model (to
// route, check and price), whether to stream, and the output cap (to reserve). Everything else in
// the body is the upstream's business.
type Fields struct {
	Model     string
	HasModel  bool
	Stream    bool
	MaxTokens int // 0 when absent
	// modelAt is the byte span of the model's JSON string value, quotes included.
	modelAt [2]int
}

// Peek reads the top-level members model, stream and max_tokens (and maxTokensField, when
// another format names its cap differently) of a JSON object without decoding anything else.
//
// It is a structural scan, not a validation (scan.go): strings are skipped to their closing
// quote, other values by bracket depth, so a 126 KB prompt costs tens of microseconds, not a
// decode. The upstream parses the body in full and refuses what is not JSON; any body it accepts
// has exactly the structure this scan reads. The one way a valid body could be read differently here and upstream is a member
// given twice (parsers keep the last), so a repeated member the gateway reads is refused: a
// client could otherwise be routed, checked and billed for one model and served another.
// Member names are compared after unescaping ("mod\u0065l" is model).
func Peek(body []byte, maxTokensField string) (Fields, error) {
	var f Fields
	i := ws(body, 0)
	if i >= len(body) || body[i] != '{' {
		return f, notObject
	}
	i = ws(body, i+1)
	if i < len(body) && body[i] == '}' {
		return f, end(body, i+1)
	}
	var seenStream, seenMax bool
	for {
		if i >= len(body) || body[i] != '"' {
			return f, notObject
		}
		kEnd, ok := skipString(body, i)
		if !ok {
			return f, notObject
		}
		key := body[i+1 : kEnd-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var k string
			if json.Unmarshal(body[i:kEnd], &k) != nil {
				return f, notObject
			}
			key = []byte(k)
		}
		i = ws(body, kEnd)
		if i >= len(body) || body[i] != ':' {
			return f, notObject
		}
		vStart := ws(body, i+1)
		vEnd, ok := skipValue(body, vStart)
		if !ok {
			return f, notObject
		}
		val := body[vStart:vEnd]
		switch {
		case string(key) == "model":
			if f.HasModel {
				return f, repeated("model")
			}
			f.HasModel = true
			if err := f.readModel(body, vStart, vEnd); err != nil {
				return f, err
			}
		case string(key) == "stream":
			if seenStream {
				return f, repeated("stream")
			}
			seenStream = true
			switch string(val) {
			case "true":
				f.Stream = true
			case "false", "null":
			default:
				return f, polydev.Errorf(polydev.EINVALID, "stream: must be a boolean")
			}
		case string(key) == maxTokensField && maxTokensField != "":
			if seenMax {
				return f, repeated(maxTokensField)
			}
			seenMax = true
			if string(val) == "null" {
				break
			}
			n, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil || n < 0 {
				return f, polydev.Errorf(polydev.EINVALID, "%s: must be a non-negative integer", maxTokensField)
			}
			// No model writes 16M tokens; the cap keeps a reservation's arithmetic far from overflow.
			f.MaxTokens = int(min(n, 1<<24))
		}
		i = ws(body, vEnd)
		if i >= len(body) {
			return f, notObject
		}
		switch body[i] {
		case ',':
			i = ws(body, i+1)
		case '}':
			return f, end(body, i+1)
		default:
			return f, notObject
		}
	}
}

func (f *Fields) readModel(body []byte, start, stop int) error {
	v := body[start:stop]
	if len(v) < 2 || v[0] != '"' {
		return polydev.Errorf(polydev.EINVALID, "model: must be a string")
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		if json.Unmarshal(v, &f.Model) != nil {
			return polydev.Errorf(polydev.EINVALID, "model: is not a valid JSON string")
		}
	} else {
		// A JSON parser upstream would read invalid UTF-8 as U+FFFD, another model than these
		// bytes: refused, so that what is routed and priced is what the provider reads.
		if !utf8.Valid(s) {
			return polydev.Errorf(polydev.EINVALID, "model: is not valid UTF-8")
		}
		f.Model = string(s)
	}
	f.modelAt = [2]int{start, stop}
	return nil
}

// WithModel returns body with the model's value replaced by model; every other byte is kept. It
// returns body itself when the model is already model, and a new slice otherwise (body is the
// client's, and a retry on another key must see it unchanged).
func (f *Fields) WithModel(body []byte, model string) []byte {
	if !f.HasModel || f.Model == model {
		return body
	}
	q, _ := json.Marshal(model) // a string always marshals
	out := make([]byte, 0, len(body)-(f.modelAt[1]-f.modelAt[0])+len(q))
	out = append(out, body[:f.modelAt[0]]...)
	out = append(out, q...)
	return append(out, body[f.modelAt[1]:]...)
}

// Splice returns where the model's value is in the body Peek read and the JSON string to send
// there instead, or a nil value when the model is already model (or absent). It is WithModel
// without the copy: the sender writes the body around the new value (provider.RawRequest).
func (f *Fields) Splice(model string) (at [2]int, value []byte) {
	if !f.HasModel || f.Model == model {
		return f.modelAt, nil
	}
	q, _ := json.Marshal(model) // a string always marshals
	return f.modelAt, q
}

var notObject = polydev.Errorf(polydev.EINVALID, "request body must be a JSON object")

func repeated(name string) error {
	return polydev.Errorf(polydev.EINVALID, "%s: given more than once", name)
}

func end(body []byte, i int) error {
	if ws(body, i) != len(body) {
		return notObject
	}
	return nil
}

func ws(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
