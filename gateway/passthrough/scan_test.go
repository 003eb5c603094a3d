package passthrough

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// member is one top-level member as a reader sees it: its unescaped name and its value's bytes.
type member struct{ name, value string }

// scannedMembers walks a top-level object with the structural scan (skipString, skipValue), as
// Peek does; ok is false where the scan finds no object.
func scannedMembers(body []byte) (ms []member, ok bool) {
	i := ws(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	if i = ws(body, i+1); i < len(body) && body[i] == '}' {
		return nil, end(body, i+1) == nil
	}
	for {
		if i >= len(body) || body[i] != '"' {
			return nil, false
		}
		kEnd, ok := skipString(body, i)
		if !ok {
			return nil, false
		}
		var name string
		if json.Unmarshal(body[i:kEnd], &name) != nil {
			return nil, false
		}
		if i = ws(body, kEnd); i >= len(body) || body[i] != ':' {
			return nil, false
		}
		vStart := ws(body, i+1)
		vEnd, ok := skipValue(body, vStart)
		if !ok {
			return nil, false
		}
		ms = append(ms, member{name, string(body[vStart:vEnd])})
		if i = ws(body, vEnd); i >= len(body) {
			return nil, false
		}
		switch body[i] {
		case ',':
			i = ws(body, i+1)
		case '}':
			return ms, end(body, i+1) == nil
		default:
			return nil, false
		}
	}
}

// decodedMembers is encoding/json's view of the same object.
func decodedMembers(body []byte) ([]member, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %v %v", t, err)
	}
	var ms []member
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		ms = append(ms, member{t.(string), string(v)})
	}
	return ms, nil
}

// checkScanAgrees fails t unless the scan reads a valid JSON object's members exactly as
// encoding/json does, and Peek reads its model, stream and max_tokens as a decoder does.
func checkScanAgrees(t *testing.T, body []byte) {
	t.Helper()
	want, err := decodedMembers(body)
	if err != nil {
		return // not an object: Peek refuses it (TestPeekRefuses)
	}
	got, ok := scannedMembers(body)
	if !ok || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s\nscanned %q (ok %v)\ndecoded %q", body, got, ok, want)
	}
	f, err := Peek(body, "max_tokens")
	if err != nil {
		return // a repeated or mistyped member: refused on purpose (TestPeekRefuses)
	}
	var m map[string]json.RawMessage // exact names, as upstream parsers match them
	if json.Unmarshal(body, &m) != nil {
		t.Fatalf("%s: a valid object did not decode", body)
	}
	var model string
	var stream bool
	var maxTokens int
	for name, v := range map[string]any{"model": &model, "stream": &stream, "max_tokens": &maxTokens} {
		if raw, ok := m[name]; ok {
			if err := json.Unmarshal(raw, v); err != nil {
				t.Fatalf("%s: Peek accepted %s %s: %v", body, name, raw, err)
			}
		}
	}
	_, hasModel := m["model"]
	if f.HasModel != hasModel || f.Model != model || f.Stream != stream || f.MaxTokens != min(maxTokens, 1<<24) {
		t.Fatalf("%s: Peek read %+v, a decoder model %q stream %v max_tokens %d", body, f, model, stream, maxTokens)
	}
}

// TestScanAgreesWithEncodingJSON compares the structural scan with encoding/json on inputs made
// to trip a scan that reads strings a word at a time: escaped quotes and backslash runs at every
// offset of a word, brackets and quotes inside strings, nested arrays, white space everywhere,
// unicode escapes in names.
func TestScanAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	bodies := []string{
		`{"model":"m","messages":[{"content":"a \"quoted\" {[ ]} word"}],"stream":true}`,
		`{"a":"\\","model":"m"}`,
		`{"a":"\\\\\"","model":"m","b":"\\\\\\\\"}`,
		`{"a":"x\\\"y\\\\\"}\"","max_tokens":7}`,
		`{"a":["]","[",["}"],[[[]]],{"{":"}"}],"model":"m"}`,
		" \t\r\n{ \"model\" \n: \"m\" ,\t\"x\" : [ 1 , [ 2 , { \"y\" : \"]\" } ] ] ,\r\n\"stream\":false } \n",
		`{"\u006d\u006fdel":"m","str\u0065am":true,"max\u005ftokens":3}`,
		`{"m\"odel":"no","model":"yes","\\model":"no"}`,
		`{"a":"\u0022\u005c","b":"\ud83d\ude00 ü","model":"\u00e9"}`,
		`{"model":"m","n":-0.5e+10,"t":true,"f":false,"z":null,"e":{},"l":[]}`,
		`{}`, ` {} `, `{"a":{}}`, `{"a":[[],[{}]]}`,
	}
	// Quotes and backslash runs at every offset around a word's edges, before and after the
	// first word of a string (where the scan changes how it looks).
	for pre := range 20 {
		for run := range 6 {
			s := strings.Repeat("x", pre) + strings.Repeat(`\`, run) + `"` + strings.Repeat("y", 20-pre) + `]}`
			q, _ := json.Marshal(s)
			bodies = append(bodies, `{"v":`+string(q)+`,"model":"m","w":[`+string(q)+`,{"k":`+string(q)+`}]}`)
		}
	}
	// Random nested values of such strings, compact and indented.
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{`"`, `\`, `{`, `}`, `[`, `]`, `:`, `,`, " ", "a", "b", "é", "\n", "\t", "\u2028", "<"}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(40) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	var value func(depth int) any
	value = func(depth int) any {
		switch n := rng.IntN(6); {
		case depth > 3 || n == 0:
			return str()
		case n == 1:
			return rng.IntN(1000)
		case n == 2:
			var l []any
			for range rng.IntN(5) {
				l = append(l, value(depth+1))
			}
			return l
		default:
			o := map[string]any{}
			for range rng.IntN(5) {
				o[str()] = value(depth + 1)
			}
			return o
		}
	}
	for range 300 {
		o := map[string]any{"model": str(), "stream": rng.IntN(2) == 0, "max_tokens": rng.IntN(1 << 20)}
		for range rng.IntN(6) {
			o[str()] = value(0)
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var ind bytes.Buffer
		if err := json.Indent(&ind, b, " \r", "\t \n"); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b), ind.String())
	}
	bodies = append(bodies, string(claudeCodeBody(t)))
	for _, b := range bodies {
		if !json.Valid([]byte(b)) {
			t.Fatalf("test input is not JSON: %s", b)
		}
		checkScanAgrees(t, []byte(b))
	}
}
