package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
)

// The Anthropic passthrough case: the request Claude Code sends on every turn of a long session,
// about 126 KB: a system prompt in blocks with cache_control marks, ~40 tool definitions with JSON
// schemas, and a long history of text, tool calls and tool results. It is synthesized here
// (deterministically, the same bytes every run) in the shape Claude Code's requests have; nothing in
// it is copied from a real session.

// messagesBodySize is the size the synthesized body is grown to.
const messagesBodySize = 126 << 10

// anthropicBeta is the anthropic-beta header Claude Code sends (feature names, public facts).
const anthropicBeta = "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"

// messagesHeader is the header every target gets for the Messages kinds, with its credential.
func messagesHeader(keyHeader, key string) http.Header {
	h := jsonHeader()
	h.Set("Anthropic-Version", "2023-06-01")
	h.Set("Anthropic-Beta", anthropicBeta)
	h.Set(keyHeader, key)
	return h
}

// messagesBodies renders the non-streamed and the streamed body for model.
func messagesBodies(model string) [2][]byte {
	return [2][]byte{claudeCodeBody(model, false), claudeCodeBody(model, true)}
}

type block = map[string]any

// claudeCodeBody builds the Claude-Code-shaped request. Only the model and the stream flag differ
// between targets and kinds; everything else is the same bytes.
func claudeCodeBody(model string, stream bool) []byte {
	rng := rand.New(rand.NewPCG(11, 126))
	cache := block{"type": "ephemeral"}
	body := map[string]any{
		"model":      model,
		"max_tokens": 32000,
		"stream":     stream,
		"metadata":   block{"user_id": "user_bench_account_00000000-0000-0000-0000-000000000000_session_11111111-1111-1111-1111-111111111111"},
		"system": []block{
			{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.", "cache_control": cache},
			{"type": "text", "text": prose(rng, 11000), "cache_control": cache},
		},
		"tools": benchTools(rng),
	}
	var msgs []block
	for turn := 0; ; turn++ {
		id := fmt.Sprintf("toolu_%024d", turn)
		msgs = append(msgs,
			block{"role": "user", "content": []block{{"type": "text", "text": "<system-reminder>" + prose(rng, 300) + "</system-reminder>"}, {"type": "text", "text": prose(rng, 200)}}},
			block{"role": "assistant", "content": []block{
				{"type": "text", "text": prose(rng, 250)},
				{"type": "tool_use", "id": id, "name": "Read", "input": block{"file_path": fmt.Sprintf("/home/dev/project/internal/pkg%d/file%d.go", turn%7, turn)}},
			}},
			block{"role": "user", "content": []block{{"type": "tool_result", "tool_use_id": id, "content": code(rng, 2400)}}},
			block{"role": "assistant", "content": []block{{"type": "text", "text": prose(rng, 400)}}},
		)
		body["messages"] = msgs
		if b, _ := json.Marshal(body); len(b) >= messagesBodySize-600 {
			break
		}
	}
	// The final user turn, with the cache mark Claude Code puts on the last block.
	msgs = append(msgs, block{"role": "user", "content": []block{{"type": "text", "text": "Now run the tests and fix what fails.", "cache_control": cache}}})
	body["messages"] = msgs
	b, _ := json.Marshal(body)
	return b
}

// benchTools is 40 tool definitions in Claude Code's shape (name, description, input_schema).
func benchTools(rng *rand.Rand) []block {
	names := []string{"Task", "Bash", "Glob", "Grep", "ExitPlanMode", "Read", "Edit", "MultiEdit", "Write", "NotebookEdit",
		"WebFetch", "TodoWrite", "WebSearch", "BashOutput", "KillShell", "SlashCommand"}
	tools := make([]block, 40)
	for i := range tools {
		name := fmt.Sprintf("mcp__bench__tool_%d", i)
		if i < len(names) {
			name = names[i]
		}
		props := block{}
		var required []string
		for j := range 4 {
			p := fmt.Sprintf("param_%d", j)
			props[p] = block{"type": "string", "description": prose(rng, 80)}
			if j < 2 {
				required = append(required, p)
			}
		}
		tools[i] = block{
			"name":        name,
			"description": prose(rng, 620),
			"input_schema": block{
				"type": "object", "properties": props, "required": required,
				"additionalProperties": false, "$schema": "http://json-schema.org/draft-07/schema#",
			},
		}
	}
	return tools
}

var words = strings.Fields(`the a to of and in is for that with on as this be it are by file test function
return value error request response model tool call stream token cache context user assistant system
package import struct interface method field config server client handler read write check build run`)

// prose is about n bytes of words.
func prose(rng *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[rng.IntN(len(words))])
	}
	return b.String()
}

// code is about n bytes of Go-looking lines.
func code(rng *rand.Rand, n int) string {
	var b strings.Builder
	for i := 1; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%4d\tfunc %s%d(ctx context.Context) error { return %s(%q) }\n", i, words[rng.IntN(len(words))], i, words[rng.IntN(len(words))], words[rng.IntN(len(words))])
	}
	return b.String()
}
