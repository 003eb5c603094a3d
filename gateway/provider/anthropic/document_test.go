package anthropic

import (
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
)

// A PDF document part (from an OpenAI- or Gemini-shaped client) is sent as a document block.
func TestEncodeDocument(t *testing.T) {
	t.Parallel()
	r := &llm.Request{Model: "claude-haiku-4-5", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{
		{Kind: llm.PartDocument, Document: &llm.Document{MediaType: "application/pdf", Data: "JVBERi0="}},
	}}}}
	b, err := encodeRequest(r, false, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}`; !strings.Contains(string(b), want) {
		t.Fatalf("%s lacks %s", b, want)
	}
}
