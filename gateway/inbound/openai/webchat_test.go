package openai

import (
	"strings"
	"testing"

	"github.com/polydev/polydev"
)

// TestDecodeWebChat: the web chat shape reads its messages as Chat Completions does, joins the
// provider to the model, and refuses what DecodeRequest refuses, naming the field.
func TestDecodeWebChat(t *testing.T) {
	t.Parallel()
	c, err := DecodeWebChat([]byte(`{"provider":"openai","model":"gpt-4o-mini","sessionId":"ABC","stream":true,"max_tokens":20,
		"temperature":0.5,"unknown":1,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Request
	if r.Model != "openai/gpt-4o-mini" || !r.Stream || r.MaxTokens != 20 || *r.Temperature != 0.5 || r.System != "be brief" ||
		len(r.Messages) != 1 || r.Messages[0].Content[0].Text != "hi" || c.SessionID != "ABC" || !c.Options.IncludeUsage {
		t.Fatalf("decoded %+v %+v", c, r)
	}
	for body, want := range map[string]string{
		`{"provider":"openai","model":"openai/gpt-4o","messages":[{"role":"user","content":"x"}]}`: "", // already prefixed
		`{"model":"anthropic/claude-haiku-4-5","messages":[{"role":"user","content":"x"}]}`:        "",
		`{"provider":"openai","messages":[{"role":"user","content":"x"}]}`:                         "model",
		`{"model":"openai/x","messages":[]}`:                                                       "messages",
		`{"model":"openai/x","messages":[{"role":"robot","content":"x"}]}`:                         "messages[0].role",
		`{"model":"openai/x","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`:           "max_tokens",
		`{"model":"openai/x","temperature":3,"messages":[{"role":"user","content":"x"}]}`:          "temperature",
		`{"model":"openai/x","messages":"hi"}`:                                                     "messages",
		`not json`:                                                                                 "not valid JSON",
	} {
		_, err := DecodeWebChat([]byte(body))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && (polydev.ErrorCode(err) != polydev.EINVALID || !strings.Contains(polydev.ErrorMessage(err), want)):
			t.Errorf("%s: error %v, want one naming %q", body, err, want)
		}
	}
}
