package llm

import (
	"encoding/json"
	"testing"
)

func TestEstimateRequestTokens(t *testing.T) {
	t.Parallel()
	r := &Request{
		System: "12345678",                                                                 // 8
		Tools:  []Tool{{Name: "f", Description: "abc", Parameters: json.RawMessage(`{}`)}}, // 6
		Messages: []Message{
			{Role: RoleUser, Content: []Part{TextPart("hello"), {Kind: PartImage, Image: &Image{URL: "https://x/y.png"}}, {Kind: PartDocument, Document: &Document{Data: "AAAA"}}}}, // 5 + image + 4
			{Role: RoleAssistant, Content: []Part{{Kind: PartToolCall, ToolCall: &ToolCall{Name: "f", Arguments: json.RawMessage(`{"a":1}`)}}}},                                     // 8
			{Role: RoleTool, Content: []Part{{Kind: PartToolResult, ToolResult: &ToolResult{Content: []Part{TextPart("ok")}}}}},                                                     // 2
		},
	}
	if got, want := EstimateRequestTokens(r), EstimateTokens(8+6+5+4+8+2)+ImageTokens; got != want {
		t.Fatalf("got %d, want %d", got, want)
	}
}
