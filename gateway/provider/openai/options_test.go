package openai

import (
	"encoding/json"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/providertest"
)

func TestEncodeOptions(t *testing.T) {
	t.Parallel()
	seed, fp, pp := int64(9), 0.5, -0.25
	cases := []struct {
		name string
		set  func(r *llm.Request)
		want string
	}{
		{"json_object", func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject} },
			`{"response_format":{"type":"json_object"}}`},
		{"json_schema", func(r *llm.Request) {
			r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "p", Description: "d", Strict: true, Schema: json.RawMessage(`{"type":"object"}`)}
		}, `{"response_format":{"type":"json_schema","json_schema":{"name":"p","description":"d","schema":{"type":"object"},"strict":true}}}`},
		{"effort", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "minimal"} }, `{"reasoning_effort":"minimal"}`},
		{"budget becomes an effort", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{BudgetTokens: 5000} }, `{"reasoning_effort":"medium"}`},
		{"sampling", func(r *llm.Request) { r.Seed, r.FrequencyPenalty, r.PresencePenalty = &seed, &fp, &pp },
			`{"seed":9,"frequency_penalty":0.5,"presence_penalty":-0.25}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &llm.Request{Model: "gpt-5", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("x")}}}}
			c.set(r)
			body, err := encodeRequest(r, false, "max_completion_tokens")
			if err != nil {
				t.Fatal(err)
			}
			providertest.AssertFields(t, body, c.want)
		})
	}
	body, _ := encodeRequest(&llm.Request{Model: "m"}, false, "max_tokens")
	providertest.AssertFields(t, body, `{}`, "response_format", "reasoning_effort", "seed", "frequency_penalty", "presence_penalty")
}

// TestReasoningHint: a hint (Claude Code's default thinking crossing to OpenAI) becomes
// reasoning_effort on reasoning models and is left out on models that refuse the field.
func TestReasoningHint(t *testing.T) {
	t.Parallel()
	for model, sent := range map[string]bool{
		"gpt-5": true, "gpt-6.2-sol": true, "o3-mini": true, "o1": true, "gpt-5.1-codex": true, "ft:o4-mini:acme::1": true,
		"gpt-4o-mini": false, "gpt-4.1": false, "gpt-3.5-turbo": false, "llama-3.1-8b": false, "omni-moderation-latest": false,
	} {
		r := &llm.Request{Model: model, Reasoning: &llm.Reasoning{Effort: "high", Hint: true}, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("x")}}}}
		body, err := encodeRequest(r, false, "max_completion_tokens")
		if err != nil {
			t.Fatal(err)
		}
		if sent {
			providertest.AssertFields(t, body, `{"reasoning_effort":"high"}`)
		} else {
			providertest.AssertFields(t, body, `{}`, "reasoning_effort")
		}
	}
}
