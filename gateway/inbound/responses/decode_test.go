package responses

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

// codexLike is shaped like what Codex CLI sends: instructions, developer and user messages, a
// reasoning item from an earlier turn, a function call and its output, a freeform (custom) tool
// and its call, store false, streaming, include of encrypted reasoning.
const codexLike = `{
  "model": "anthropic/claude-sonnet-4-5",
  "instructions": "You are Codex.",
  "input": [
    {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions>"}]},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
    {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA"},
    {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"ls\"]}", "call_id": "call_1"},
    {"type": "function_call_output", "call_id": "call_1", "output": "a.txt\nb.txt"},
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Two files."}]},
    {"type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch", "call_id": "call_2"},
    {"type": "custom_tool_call_output", "call_id": "call_2", "output": "Done"},
    {"role": "user", "content": "thanks"}
  ],
  "tools": [
    {"type": "function", "name": "shell", "description": "Runs a command", "strict": false,
     "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}}},
    {"type": "custom", "name": "apply_patch", "description": "Edit files",
     "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch"}}
  ],
  "tool_choice": "auto",
  "parallel_tool_calls": false,
  "reasoning": {"effort": "medium", "summary": "auto"},
  "store": false,
  "stream": true,
  "include": ["reasoning.encrypted_content"],
  "prompt_cache_key": "abc",
  "text": {"verbosity": "low"}
}`

func TestDecodeCodexLike(t *testing.T) {
	req, opts, err := DecodeRequest([]byte(codexLike))
	if err != nil {
		t.Fatal(err)
	}
	if req.System != "You are Codex.\n\n<permissions>" || !req.Stream || !req.ToolChoice.DisableParallel || req.ToolChoice.Mode != llm.ToolChoiceAuto {
		t.Fatalf("request = %+v", req)
	}
	if opts.Store || opts.Model != "anthropic/claude-sonnet-4-5" || !opts.Tools["apply_patch"].Custom || opts.ref("shell").Custom {
		t.Fatalf("options = %+v", opts)
	}
	// user, assistant(call), tool, assistant(text + custom call), tool, user
	roles := []llm.Role{llm.RoleUser, llm.RoleAssistant, llm.RoleTool, llm.RoleAssistant, llm.RoleTool, llm.RoleUser}
	if len(req.Messages) != len(roles) {
		t.Fatalf("%d messages: %+v", len(req.Messages), req.Messages)
	}
	for i, r := range roles {
		if req.Messages[i].Role != r {
			t.Fatalf("message %d role %s, want %s", i, req.Messages[i].Role, r)
		}
	}
	custom := req.Messages[3].Content[1].ToolCall
	var args struct{ Input string }
	if err := json.Unmarshal(custom.Arguments, &args); err != nil || custom.Name != "apply_patch" || args.Input != "*** Begin Patch\n*** End Patch" {
		t.Fatalf("custom call = %+v", custom)
	}
	res := req.Messages[2].Content[0].ToolResult
	if res.CallID != "call_1" || res.Name != "shell" || res.Text() != "a.txt\nb.txt" {
		t.Fatalf("result = %+v", res)
	}
	// The freeform tool is a function with one string argument; its grammar is in the schema.
	var schema struct {
		Properties struct {
			Input struct{ Type, Description string }
		}
		Required []string
	}
	if err := json.Unmarshal(req.Tools[1].Parameters, &schema); err != nil || schema.Properties.Input.Type != "string" ||
		!strings.Contains(schema.Properties.Input.Description, "start: begin_patch") || len(schema.Required) != 1 {
		t.Fatalf("custom tool schema %s", req.Tools[1].Parameters)
	}
}

func TestDecodeStringInput(t *testing.T) {
	req, opts, err := DecodeRequest([]byte(`{"model":"m","input":"hi","max_output_tokens":50,"temperature":0.5,"user":"u1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Messages) != 1 || req.Messages[0].Content[0].Text != "hi" || req.MaxTokens != 50 || *req.Temperature != 0.5 || req.User != "u1" {
		t.Fatalf("request = %+v", req)
	}
	if !opts.Store || !opts.ParallelToolCalls || opts.MaxOutputTokens != 50 {
		t.Fatalf("options = %+v", opts)
	}
}

func TestDecodeImages(t *testing.T) {
	req, _, err := DecodeRequest([]byte(`{"model":"m","input":[{"role":"user","content":[
		{"type":"input_text","text":"what is it"},
		{"type":"input_image","image_url":"data:image/png;base64,iVBOR","detail":"auto"},
		{"type":"input_image","image_url":"https://example.com/a.png"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	parts := req.Messages[0].Content
	if len(parts) != 3 || parts[1].Image.MediaType != "image/png" || parts[1].Image.Data != "iVBOR" || parts[2].Image.URL != "https://example.com/a.png" {
		t.Fatalf("parts = %+v", parts)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ body, field string }{
		{`{"input":"hi"}`, "model"},
		{`{"model":"m"}`, "input"},
		{`{"model":"m","input":[]}`, "input"},
		{`{"model":"m","input":5}`, "input"},
		{`{"model":"m","input":"hi","temperature":3}`, "temperature"},
		{`{"model":"m","input":"hi","top_p":-1}`, "top_p"},
		{`{"model":"m","input":"hi","max_output_tokens":0}`, "max_output_tokens"},
		{`{"model":"m","input":"hi","previous_response_id":"resp_1"}`, "previous_response_id"},
		{`{"model":"m","input":"hi","conversation":"conv_1"}`, "conversation"},
		{`{"model":"m","input":"hi","background":true}`, "background"},
		{`{"model":"m","input":"hi","prompt":{"id":"p"}}`, "prompt"},
		{`{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"x","schema":{}}}}`, "text.format.type"},
		{`{"model":"m","input":"hi","tools":[{"type":"file_search"}]}`, "tools[0].type"},
		{`{"model":"m","input":"hi","tools":[{"type":"namespace","name":"n","tools":[{"type":"namespace","name":"m"}]}]}`, "tools[0].tools[0].type"},
		{`{"model":"m","input":[{"type":"additional_tools","tools":[{"type":"function","name":"a b"}]},{"role":"user","content":"x"}]}`, "input[0].tools[0].name"},
		{`{"model":"m","input":"hi","tools":[{"type":"local_shell"}]}`, "tools[0].type"},
		{`{"model":"m","input":"hi","tools":[{"type":"function","name":"a b"}]}`, "tools[0].name"},
		{`{"model":"m","input":"hi","tools":[{"type":"function","name":"a"},{"type":"custom","name":"a"}]}`, "tools[1].name"},
		{`{"model":"m","input":"hi","tools":[{"type":"function","name":"a","parameters":[]}]}`, "tools[0].parameters"},
		{`{"model":"m","input":"hi","tool_choice":"sometimes"}`, "tool_choice"},
		{`{"model":"m","input":"hi","tool_choice":"required"}`, "tool_choice"},
		{`{"model":"m","input":"hi","tool_choice":{"type":"function","name":"x"}}`, "tool_choice.name"},
		{`{"model":"m","input":"hi","tool_choice":{"type":"web_search_preview"}}`, "tool_choice.type"},
		{`{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0].type"},
		{`{"model":"m","input":[{"type":"web_search_call","id":"ws_1"}]}`, "input[0].type"},
		{`{"model":"m","input":[{"content":"hi"}]}`, "input[0].type"},
		{`{"model":"m","input":[{"role":"tool","content":"hi"}]}`, "input[0].role"},
		{`{"model":"m","input":[{"role":"user"}]}`, "input[0].content"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}`, "input[0].content[0].type"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"f"}]}]}`, "input[0].content[0].file_id"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"ftp://x"}]}]}`, "input[0].content[0].image_url"},
		{`{"model":"m","input":[{"role":"system","content":[{"type":"input_image","image_url":"https://x"}]}]}`, "input[0].content[0].type"},
		{`{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","arguments":"{}"}]}`, "input[0].name"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{"}]}`, "input[0].arguments"},
		{`{"model":"m","input":[{"type":"custom_tool_call","call_id":"c","name":"f"}]}`, "input[0].input"},
		{`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":"x"}]}`, "input[0].call_id"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f"},{"type":"function_call_output","call_id":"c"}]}`, "input[1].output"},
		{`{"model":"m","input":[{"role":"user","content":"hi"}],"tools":{}}`, "tools"},
	} {
		_, _, err := DecodeRequest([]byte(tc.body))
		if polydev.ErrorCode(err) != polydev.EINVALID || !strings.Contains(polydev.ErrorMessage(err), tc.field) {
			t.Errorf("%s: error %v, want EINVALID naming %s", tc.body, err, tc.field)
		}
	}
}

// A body that tries to name an upstream or a key is parsed as if those fields were absent.
func TestDecodeIgnoresCredentials(t *testing.T) {
	req, _, err := DecodeRequest([]byte(`{"model":"m","input":"hi","api_key":"sk-x","base_url":"http://evil"}`))
	if err != nil || req.Model != "m" {
		t.Fatalf("%+v %v", req, err)
	}
}
