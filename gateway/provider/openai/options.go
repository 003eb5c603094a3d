package openai

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/llm"
)

type wireResponseFormat struct {
	Type       string          `json:"type"`
	JSONSchema *wireJSONSchema `json:"json_schema,omitempty"`
}

type wireJSONSchema struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Strict      bool            `json:"strict,omitempty"`
}

// encodeOptions writes structured output, reasoning and sampling options: OpenAI's own fields, so
// they map one to one.
func encodeOptions(r *llm.Request, w *wireRequest) {
	if f := r.ResponseFormat; f != nil {
		rf := wireResponseFormat{Type: string(f.Type)}
		if f.Type == llm.FormatJSONSchema {
			rf.JSONSchema = &wireJSONSchema{Name: f.Name, Description: f.Description, Schema: f.Schema, Strict: f.Strict}
		}
		w.ResponseFormat = rf
	}
	if rs := r.Reasoning; rs != nil {
		w.ReasoningEffort = rs.Effort
		if w.ReasoningEffort == "" && rs.BudgetTokens > 0 {
			w.ReasoningEffort = llm.BudgetEffort(rs.BudgetTokens)
		}
	}
	w.Seed, w.FrequencyPenalty, w.PresencePenalty = r.Seed, r.FrequencyPenalty, r.PresencePenalty
}
