package passthrough

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// claudeCodeBody is a request of about 126 KB in the shape Claude Code sends on each turn of a
// long session, synthesized here (the same bytes every run): the model and caps first, a system
// prompt in text blocks with cache marks, 40 tools whose JSON schemas are many short strings and
// small objects, and a history of prose, tool calls and tool results of Go-like code (tabs,
// newlines and quotes, so escapes every few bytes). json.Marshal also escapes the '<' and '>' of
// the reminder tags as \u003c and \u003e, as a JavaScript client does not, which only adds escapes.
func claudeCodeBody(tb testing.TB) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(6, 12))
	words := strings.Fields(`the a to of and in is for that with on as this be it are by file test
		function return value error request model tool call stream token cache context user system
		package import struct interface method field config server client handler read write run`)
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		return b.String()
	}
	code := func(n int) string {
		var b strings.Builder
		for line := 1; b.Len() < n; line++ {
			fmt.Fprintf(&b, "%5d\tif err := %s(%q); err != nil {\n\t\treturn err\n\t}\n", line, words[rng.IntN(len(words))], words[rng.IntN(len(words))])
		}
		return b.String()
	}
	mark := map[string]string{"type": "ephemeral"}
	type obj = map[string]any
	tools := make([]obj, 40)
	for i := range tools {
		props := obj{}
		for p := range 5 {
			props[fmt.Sprintf("arg%d", p)] = obj{"type": []string{"string", "integer", "boolean"}[p%3], "description": text(60)}
		}
		props["items"] = obj{"type": "array", "items": obj{"type": "object", "properties": obj{"id": obj{"type": "string"}, "done": obj{"type": "boolean"}}}}
		tools[i] = obj{"name": fmt.Sprintf("Tool%d", i), "description": text(500), "input_schema": obj{
			"type": "object", "properties": props, "required": []string{"arg0", "arg1"},
			"additionalProperties": false, "$schema": "http://json-schema.org/draft-07/schema#",
		}}
	}
	// Encoded with the members in the order Claude Code writes them (model first), which a map
	// would sort away.
	head := fmt.Sprintf(`{"model":"claude-sonnet-4-5-20250929","max_tokens":32000,"stream":true,"metadata":{"user_id":"user_%064d"},`, 7)
	system, _ := json.Marshal([]obj{
		{"type": "text", "text": "You are a command line coding assistant.", "cache_control": mark},
		{"type": "text", "text": text(12000), "cache_control": mark},
	})
	toolsJSON, _ := json.Marshal(tools)
	var msgs []obj
	render := func() []byte {
		m, _ := json.Marshal(msgs)
		return []byte(head + `"system":` + string(system) + `,"tools":` + string(toolsJSON) + `,"messages":` + string(m) + `}`)
	}
	for turn := 0; len(render()) < 126<<10; turn++ {
		id := fmt.Sprintf("toolu_%020d", turn)
		msgs = append(msgs,
			obj{"role": "user", "content": []obj{{"type": "text", "text": "<system-reminder>" + text(250) + "</system-reminder>"}, {"type": "text", "text": text(150)}}},
			obj{"role": "assistant", "content": []obj{{"type": "text", "text": text(200)}, {"type": "tool_use", "id": id, "name": "Read", "input": obj{"file_path": fmt.Sprintf("/src/pkg%d/f%d.go", turn%5, turn)}}}},
			obj{"role": "user", "content": []obj{{"type": "tool_result", "tool_use_id": id, "content": code(2000)}}},
		)
	}
	return render()
}

func TestClaudeCodeBody(t *testing.T) {
	t.Parallel()
	body := claudeCodeBody(t)
	if n := len(body); n < 126<<10 || n > 136<<10 || !json.Valid(body) {
		t.Fatalf("body: %d bytes, valid %v", n, json.Valid(body))
	}
	f, err := Peek(body, "max_tokens")
	if err != nil || f.Model != "claude-sonnet-4-5-20250929" || !f.Stream || f.MaxTokens != 32000 {
		t.Fatalf("%+v %v", f, err)
	}
}

func BenchmarkPeekClaudeCode(b *testing.B) {
	body := claudeCodeBody(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Peek(body, "max_tokens"); err != nil {
			b.Fatal(err)
		}
	}
}
