package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The fakes render their payloads with an ordered object type instead of
// structs with tags: the providers' field order, null-versus-absent choices
// and whitespace differ per message, and a golden byte-for-byte comparison
// needs exact control over all three. Rendering happens once per script, not
// per request, so none of this is on the hot path.

// obj is a JSON object whose keys keep their order.
type obj []field

type field struct {
	k string
	v any
}

// arr is a JSON array.
type arr []any

// raw is JSON text inserted verbatim (it must already be valid).
type raw []byte

// compact renders v as compact JSON without HTML escaping (the providers do
// not escape <, > and &, and Go's default does).
func compact(v any) []byte {
	return appendValue(nil, v)
}

// indented renders v with the given indent and a trailing newline, the way
// OpenAI and Google pretty-print their non-streaming bodies.
func indented(v any, indent string) []byte {
	var out bytes.Buffer
	if err := json.Indent(&out, compact(v), "", indent); err != nil {
		panic(fmt.Sprintf("testkit: indent: %v", err)) // only reachable through a bug in appendValue
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if v {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case int:
		return fmt.Appendf(b, "%d", v)
	case int64:
		return fmt.Appendf(b, "%d", v)
	case string:
		return appendString(b, v)
	case raw:
		return append(b, v...)
	case obj:
		b = append(b, '{')
		for i, f := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, f.k)
			b = append(b, ':')
			b = appendValue(b, f.v)
		}
		return append(b, '}')
	case arr:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	default:
		panic(fmt.Sprintf("testkit: cannot render %T", v))
	}
}

func appendString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(err) // a string always encodes
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// googleSpaced reformats compact JSON the way Gemini writes stream chunks: a
// space after every colon, none after commas ({"text": "Hi","role": "model"}).
func googleSpaced(compactJSON []byte) []byte {
	out := make([]byte, 0, len(compactJSON)+len(compactJSON)/8)
	inString, escaped := false, false
	for _, c := range compactJSON {
		out = append(out, c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == ':':
			out = append(out, ' ')
		}
	}
	return out
}

// compactArgs validates a tool call's JSON arguments and returns them compact.
func compactArgs(args string) (raw, error) {
	if args == "" {
		args = "{}"
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		return nil, fmt.Errorf("tool call arguments must be a JSON object: %w", err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, []byte(args)); err != nil {
		return nil, err
	}
	return raw(out.Bytes()), nil
}
