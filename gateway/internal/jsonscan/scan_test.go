package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestWalk(t *testing.T) {
	t.Parallel()
	in := ` {"a" : "x\"y\u00e9\ud83d\ude00" , "n":-12, "f":1.5e3, "arr":[1,{"b":null},[]],"t":true,"z":false,"o":{}} `
	var s Scanner
	s.Reset([]byte(in))
	got := map[string]any{}
	if !s.Object() {
		t.Fatal(s.Err())
	}
	for {
		k, ok := s.Key()
		if !ok {
			break
		}
		switch string(k) {
		case "a":
			got["a"] = s.String()
		case "n":
			got["n"] = s.Int()
		case "t":
			got["t"] = s.Bool()
		case "z":
			got["z"] = s.Bool()
		case "arr":
			n := 0
			s.Array()
			for s.Elem() {
				s.Skip()
				n++
			}
			got["arr"] = n
		default:
			got[string(k)] = string(s.Skip())
		}
	}
	if err := s.End(); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": "x\"yé😀", "n": -12, "f": "1.5e3", "arr": 3, "t": true, "z": false, "o": "{}"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %#v, want %#v", k, got[k], v)
		}
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`, `{"a":1 "b":2}`, `[1,]`, `[,1]`, `{"a":01}`, `{"a":1.}`,
		`{"a":-}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"a":"\u12"}`, `{"a":tru}`, `{"a":nul}`, `{} x`, `{"a":1}}`, `"unterminated`, `{"a":[}`} {
		var s Scanner
		s.Reset([]byte(in))
		s.Skip()
		if s.End() == nil {
			t.Errorf("%q accepted", in)
		}
	}
	var s Scanner
	s.Reset([]byte(`{"a":1.5}`))
	s.Object()
	s.Key()
	if s.Int(); s.Err() == nil {
		t.Error("1.5 read as an int")
	}
	s.Reset([]byte(strings.Repeat("[", 600) + strings.Repeat("]", 600)))
	if s.Skip(); s.Err() == nil {
		t.Error("nesting beyond the limit accepted")
	}
}

// depth estimates nesting, to leave out inputs beyond the scanner's (documented) limit.
func depth(b []byte) int {
	d, m := 0, 0
	for _, c := range b {
		switch c {
		case '[', '{':
			d++
			m = max(m, d)
		case ']', '}':
			d--
		}
	}
	return m
}

// sanitize maps each invalid UTF-8 byte to U+FFFD, as encoding/json does when unquoting.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// FuzzScanner checks the scanner against encoding/json: the same documents are valid, strings
// unescape alike, integers read alike.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c\n"}],"d":null}`, `"\ud83d\ude00\ud800x"`, `-0.5e+7`, `12`, `[true,false]`, `"é\u00e9"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Scanner
		s.Reset(b)
		s.Skip()
		ok := s.End() == nil
		if depth(b) < maxDepth && ok != json.Valid(b) {
			t.Fatalf("valid=%v, encoding/json says %v", ok, json.Valid(b))
		}
		var str string
		if json.Unmarshal(b, &str) == nil {
			// encoding/json takes null as "leave unchanged"; decoders read those with StringOrNull.
			s.Reset(b)
			got := s.StringOrNull()
			if s.End() != nil || sanitize(got) != str {
				t.Fatalf("string %q, encoding/json %q", got, str)
			}
		}
		var n int
		if json.Unmarshal(b, &n) == nil && strings.TrimSpace(string(b)) != "null" {
			s.Reset(b)
			if got := s.Int(); s.End() != nil || got != n {
				t.Fatalf("int %d, encoding/json %d", got, n)
			}
		}
	})
}

func BenchmarkChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-testkit0000000000000000000001","object":"chat.completion.chunk","created":1735689600,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_testkit01","choices":[{"index":0,"delta":{"content":"Hello! "},"logprobs":null,"finish_reason":null}],"usage":null}`)
	var s Scanner
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		s.Reset(chunk)
		s.Skip()
		if s.End() != nil {
			b.Fatal(s.Err())
		}
	}
}
