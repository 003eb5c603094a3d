package passthrough

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/polydev/polydev"
)

func TestPeek(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body      string
		model     string
		stream    bool
		maxTokens int
	}{
		{`{"model":"anthropic/claude-haiku-4-5","max_tokens":1024,"stream":true,"messages":[]}`, "anthropic/claude-haiku-4-5", true, 1024},
		{` { "messages" : [ {"role":"user","content":"a \"model\": \"x\" {[" } ] , "model" : "m1" , "stream" : false } `, "m1", false, 0},
		{`{"system":[{"type":"text","text":"x\\","cache_control":{"type":"ephemeral"}}],"model":"m\u00e9","max_tokens":null}`, "mé", false, 0},
		{`{"mod\u0065l":"escaped-key","metadata":{"model":"nested-is-ignored"},"n":-1.5e3,"t":true,"z":null}`, "escaped-key", false, 0},
		{`{}`, "", false, 0},
	}
	for _, c := range cases {
		f, err := Peek([]byte(c.body), "max_tokens")
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		if f.Model != c.model || f.Stream != c.stream || f.MaxTokens != c.maxTokens {
			t.Fatalf("%s: got %+v", c.body, f)
		}
	}
}

func TestPeekRefuses(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		``:                                  "JSON object",
		`[]`:                                "JSON object",
		`{"model":"a"} x`:                   "JSON object",
		`{"model":"a"`:                      "JSON object",
		`{"model":"a","model":"b"}`:         "model: given more than once",
		`{"model":"a","mod\u0065l":"b"}`:    "model: given more than once",
		`{"stream":true,"stream":false}`:    "stream: given more than once",
		`{"max_tokens":1,"max_tokens":900}`: "max_tokens: given more than once",
		`{"model":7}`:                       "model: must be a string",
		`{"stream":"yes"}`:                  "stream: must be a boolean",
		`{"max_tokens":1.5}`:                "max_tokens: must be a non-negative integer",
		`{"max_tokens":-1}`:                 "max_tokens: must be a non-negative integer",
		`{"messages":"unterminated}`:        "JSON object",
	} {
		_, err := Peek([]byte(body), "max_tokens")
		if polydev.ErrorCode(err) != polydev.EINVALID || !strings.Contains(polydev.ErrorMessage(err), want) {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
	}
}

// A cap beyond any model's stays far from overflowing a reservation.
func TestPeekClampsMaxTokens(t *testing.T) {
	t.Parallel()
	f, err := Peek([]byte(`{"max_tokens":922337203685477}`), "max_tokens")
	if err != nil || f.MaxTokens != 1<<24 {
		t.Fatalf("%+v %v", f, err)
	}
}

func TestWithModel(t *testing.T) {
	t.Parallel()
	body := []byte(`{"max_tokens":5, "model" : "anthropic/claude-haiku-4-5" ,"messages":[{"role":"user","content":"model"}]}`)
	f, err := Peek(body, "max_tokens")
	if err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(body)
	out := f.WithModel(body, `claude-"haiku"`)
	want := `{"max_tokens":5, "model" : "claude-\"haiku\"" ,"messages":[{"role":"user","content":"model"}]}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	if !bytes.Equal(body, orig) {
		t.Fatal("the client's body was changed")
	}
	if same := f.WithModel(body, "anthropic/claude-haiku-4-5"); &same[0] != &body[0] {
		t.Fatal("an unchanged model copied the body")
	}
	var v map[string]any
	if err := json.Unmarshal(out, &v); err != nil || v["model"] != `claude-"haiku"` {
		t.Fatalf("%v %v", v, err)
	}
}

// bigBody is a Claude-Code-shaped request of about 126 KB: a long system prompt with cache marks,
// many tools with schemas, and a conversation with escaped code.
func bigBody(tb testing.TB) []byte {
	tb.Helper()
	var tools []map[string]any
	for i := range 40 {
		tools = append(tools, map[string]any{
			"name":        "tool_" + strings.Repeat("x", i%7),
			"description": strings.Repeat("Runs a thing \"quoted\" with\nnewlines and \\ backslashes. ", 40),
			"input_schema": map[string]any{"type": "object", "properties": map[string]any{
				"command": map[string]any{"type": "string", "description": "the command"},
				"timeout": map[string]any{"type": "number"},
			}, "required": []string{"command"}},
		})
	}
	var msgs []map[string]any
	for i := range 30 {
		msgs = append(msgs, map[string]any{"role": []string{"user", "assistant"}[i%2], "content": []map[string]any{
			{"type": "text", "text": strings.Repeat("func main() { fmt.Println(\"hello\\n\") } // ", 40)},
		}})
	}
	b, err := json.Marshal(map[string]any{
		"model": "anthropic/claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
		"system": []map[string]any{{"type": "text", "text": strings.Repeat("You are Claude Code. ", 400), "cache_control": map[string]string{"type": "ephemeral"}}},
		"tools":  tools, "messages": msgs, "metadata": map[string]string{"user_id": "user_abc"},
		"thinking": map[string]any{"type": "enabled", "budget_tokens": 1024},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestPeekBigBody(t *testing.T) {
	t.Parallel()
	body := bigBody(t)
	if len(body) < 100<<10 {
		t.Fatalf("body is %d bytes", len(body))
	}
	f, err := Peek(body, "max_tokens")
	if err != nil || f.Model != "anthropic/claude-sonnet-4-5" || !f.Stream || f.MaxTokens != 32000 {
		t.Fatalf("%+v %v", f, err)
	}
	out := f.WithModel(body, "claude-sonnet-4-5-20250929")
	if want := bytes.Replace(body, []byte(`"anthropic/claude-sonnet-4-5"`), []byte(`"claude-sonnet-4-5-20250929"`), 1); !bytes.Equal(out, want) {
		t.Fatal("splice changed other bytes")
	}
}

func BenchmarkPeekWithModel(b *testing.B) {
	body := bigBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := Peek(body, "max_tokens")
		if err != nil {
			b.Fatal(err)
		}
		_ = f.WithModel(body, "claude-sonnet-4-5-20250929")
	}
}

func FuzzPeek(f *testing.F) {
	f.Add([]byte(`{"model":"a","stream":true,"max_tokens":3,"x":[1,{"y":"\"}"}]}`))
	f.Add([]byte(`{"mod\u0065l":"b"}`))
	f.Add([]byte(`{"a":"xxxxxxx\\\"yy\\","model":"m","b":[["]"],{"}":"\u0022"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if json.Valid(body) {
			checkScanAgrees(t, body)
		}
		fl, err := Peek(body, "max_tokens")
		if err != nil || !fl.HasModel {
			return
		}
		// A body the upstream accepts must have the model Peek read. Upstream parsers match keys
		// exactly (encoding/json into a struct would not), so compare with a map's.
		var m map[string]json.RawMessage
		if json.Valid(body) && json.Unmarshal(body, &m) == nil {
			var model string
			if json.Unmarshal(m["model"], &model) != nil || model != fl.Model {
				t.Fatalf("Peek read model %q, a JSON parser %s", fl.Model, m["model"])
			}
		}
		out := fl.WithModel(body, "x")
		if json.Valid(body) && !json.Valid(out) {
			t.Fatalf("splice made invalid JSON: %s", out)
		}
	})
}

// TestSplice: the parts around Splice's value are WithModel's bytes, and an unchanged model
// needs no splice.
func TestSplice(t *testing.T) {
	body := []byte(`{"max_tokens":5, "model" : "anthropic/claude-haiku-4-5","stream":true}`)
	f, err := Peek(body, "max_tokens")
	if err != nil {
		t.Fatal(err)
	}
	at, v := f.Splice("claude-haiku-4-5")
	got := string(body[:at[0]]) + string(v) + string(body[at[1]:])
	if want := string(f.WithModel(body, "claude-haiku-4-5")); got != want {
		t.Fatalf("spliced %s, want %s", got, want)
	}
	if _, v := f.Splice("anthropic/claude-haiku-4-5"); v != nil {
		t.Fatalf("same model spliced %q", v)
	}
}
