package gemini

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/providertest"
)

func TestEncodeOptions(t *testing.T) {
	t.Parallel()
	seed, fp, pp := int64(3), 0.5, 1.0
	schema := json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}}}`)
	cases := []struct {
		name, model string
		set         func(r *llm.Request)
		want        string
	}{
		{"json_object", "gemini-2.5-flash", func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject} },
			`{"generationConfig":{"responseMimeType":"application/json"}}`},
		{"json_schema", "gemini-2.5-flash", func(r *llm.Request) {
			r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "p", Schema: schema}
		}, `{"generationConfig":{"responseMimeType":"application/json","responseJsonSchema":` + string(schema) + `}}`},
		{"sampling", "gemini-2.5-flash", func(r *llm.Request) { r.Seed, r.FrequencyPenalty, r.PresencePenalty = &seed, &fp, &pp },
			`{"generationConfig":{"seed":3,"frequencyPenalty":0.5,"presencePenalty":1}}`},
		{"effort on 2.5: a budget", "gemini-2.5-flash", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "low"} },
			`{"generationConfig":{"thinkingConfig":{"thinkingBudget":2048}}}`},
		{"none on 2.5: budget 0", "gemini-2.5-flash", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "none"} },
			`{"generationConfig":{"thinkingConfig":{"thinkingBudget":0}}}`},
		{"effort on 3: a level", "gemini-3-pro-preview", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "high"} },
			`{"generationConfig":{"thinkingConfig":{"thinkingLevel":"high"}}}`},
		{"none on 3: minimal", "gemini-3-flash-preview", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "none"} },
			`{"generationConfig":{"thinkingConfig":{"thinkingLevel":"minimal"}}}`},
		{"a hint on 2.5", "gemini-2.5-flash", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{Effort: "low", Hint: true} },
			`{"generationConfig":{"thinkingConfig":{"thinkingBudget":2048}}}`},
		{"a hint on 2.0: left out", "gemini-2.0-flash", func(r *llm.Request) { r.Reasoning, r.Seed = &llm.Reasoning{Effort: "low", Hint: true}, &seed },
			`{"generationConfig":{"seed":3}}`},
		{"a budget on 3: the level covering it", "gemini-3-flash-preview", func(r *llm.Request) { r.Reasoning = &llm.Reasoning{BudgetTokens: 3000} },
			`{"generationConfig":{"thinkingConfig":{"thinkingLevel":"medium"}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &llm.Request{Model: c.model, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("x")}}}}
			c.set(r)
			body, err := encodeRequest(r)
			if err != nil {
				t.Fatal(err)
			}
			providertest.AssertFields(t, body, c.want)
		})
	}
	body, _ := encodeRequest(&llm.Request{Model: "gemini-2.5-flash", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("x")}}}})
	providertest.AssertFields(t, body, `{}`, "generationConfig")
}

func TestUnknownEffortRefused(t *testing.T) {
	t.Parallel()
	for _, model := range []string{"gemini-2.5-pro", "gemini-3-pro-preview"} {
		err := (&Provider{}).Check(&llm.Request{Model: model, Reasoning: &llm.Reasoning{Effort: "turbo"}})
		if polydev.ErrorCode(err) != polydev.EINVALID || !strings.HasPrefix(polydev.ErrorMessage(err), "reasoning_effort:") {
			t.Errorf("%s: %v", model, err)
		}
	}
}
