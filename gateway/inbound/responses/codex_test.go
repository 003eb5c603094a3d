package responses

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/internal/testkit"
)

// The requests Codex CLI really sends (recorded by e2e/agents) decode for a cross-provider route.
func TestDecodeCodexRecordings(t *testing.T) {
	for _, tc := range []struct {
		file      string
		tools     []string // some of the tools the model must get
		lastRole  llm.Role
		namespace string // the namespace of tools[0], when declared in one
	}{
		{"agents/codex/responses_prompt.json", []string{"exec", "wait", "sleep", "spawn_agent"}, llm.RoleUser, "functions"},
		{"agents/codex/responses_function_call_output.json", []string{"exec", "list_agents"}, llm.RoleTool, "functions"},
		{"agents/codex/responses_model_anthropic.json", []string{"exec_command", "spawn_agent", "update_goal"}, llm.RoleUser, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			req, opts, err := DecodeRequest(testkit.Payload(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !req.Stream || opts.Store || !strings.Contains(req.System, "Codex") || len(req.Messages) == 0 {
				t.Fatalf("request: stream %v store %v system %.40q, %d messages", req.Stream, opts.Store, req.System, len(req.Messages))
			}
			if last := req.Messages[len(req.Messages)-1]; last.Role != tc.lastRole {
				t.Fatalf("last message role %s", last.Role)
			}
			declared := map[string]bool{}
			for _, tl := range req.Tools {
				declared[tl.Name] = true
				if tl.Name == "web_search" {
					t.Fatal("the hosted web_search tool reached the canonical request")
				}
			}
			for _, name := range tc.tools {
				if !declared[name] {
					t.Fatalf("tool %q missing from %d tools", name, len(req.Tools))
				}
			}
			if ref := opts.ref(tc.tools[0]); ref.Namespace != tc.namespace || ref.Name != tc.tools[0] {
				t.Fatalf("%s: %+v", tc.tools[0], ref)
			}
		})
	}
}

// A call to a namespaced or freeform tool goes back to the client under the name and namespace it
// declared; the same name in two namespaces is told apart.
func TestNamespacedCalls(t *testing.T) {
	body := `{"model":"m","input":[
		{"type":"additional_tools","role":"developer","tools":[
			{"type":"namespace","name":"functions","tools":[{"type":"custom","name":"exec"},{"type":"function","name":"wait"}]},
			{"type":"namespace","name":"collab","tools":[{"type":"function","name":"wait"}]}]},
		{"role":"user","content":"go"},
		{"type":"function_call","namespace":"collab","name":"wait","arguments":"{}","call_id":"c1"},
		{"type":"function_call_output","call_id":"c1","output":"ok"}],
		"tools":[{"type":"web_search","external_web_access":false},{"type":"function","name":"top"}],
		"tool_choice":{"type":"function","namespace":"collab","name":"wait"}}`
	req, opts, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range req.Tools {
		names = append(names, tl.Name)
	}
	if strings.Join(names, ",") != "top,exec,wait,collab__wait" {
		t.Fatalf("tools %v", names)
	}
	if call := req.Messages[1].Content[0].ToolCall; call.Name != "collab__wait" || req.ToolChoice.Name != "collab__wait" {
		t.Fatalf("history call %+v, choice %+v", call, req.ToolChoice)
	}
	resp := &llm.Response{StopReason: llm.StopToolUse, Content: []llm.Part{
		{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "c2", Name: "collab__wait", Arguments: json.RawMessage(`{}`)}},
		{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "c3", Name: "exec", Arguments: json.RawMessage(`{"input":"1+1"}`)}},
		{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "c4", Name: "top", Arguments: json.RawMessage(`{}`)}},
	}}
	rec := httptest.NewRecorder()
	if err := WriteResponse(rec, resp, &opts); err != nil {
		t.Fatal(err)
	}
	var got wireResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	o := got.Output
	if len(o) != 3 || o[0].Name != "wait" || o[0].Namespace != "collab" || o[1].Type != "custom_tool_call" || o[1].Name != "exec" ||
		o[1].Namespace != "functions" || o[1].Input != "1+1" || o[2].Name != "top" || o[2].Namespace != "" {
		t.Fatalf("output %+v", o)
	}
}
