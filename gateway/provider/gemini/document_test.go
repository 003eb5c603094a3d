package gemini

import (
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
)

// A PDF document part is sent as inlineData.
func TestEncodeDocument(t *testing.T) {
	t.Parallel()
	r := &llm.Request{Model: "gemini-2.5-flash", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{
		{Kind: llm.PartDocument, Document: &llm.Document{MediaType: "application/pdf", Data: "JVBERi0="}},
	}}}}
	b, err := encodeRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}}`; !strings.Contains(string(b), want) {
		t.Fatalf("%s lacks %s", b, want)
	}
}
