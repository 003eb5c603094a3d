package openai

import (
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
)

// A PDF document part is sent as a file content part with the file inline as a data URL.
func TestEncodeDocument(t *testing.T) {
	t.Parallel()
	r := &llm.Request{Model: "gpt-4o", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{
		llm.TextPart("summarise"), {Kind: llm.PartDocument, Document: &llm.Document{MediaType: "application/pdf", Data: "JVBERi0="}},
	}}}}
	b, err := encodeRequest(r, false, "max_tokens")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"file","file":{"filename":"document.pdf","file_data":"data:application/pdf;base64,JVBERi0="}}`; !strings.Contains(string(b), want) {
		t.Fatalf("%s lacks %s", b, want)
	}
}
