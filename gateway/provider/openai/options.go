package openai

import (
	"encoding/json"
	"strings"

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
	if rs := r.Reasoning; rs != nil && (!rs.Hint || reasoningModel(r.Model)) {
		w.ReasoningEffort = rs.Effort
		if w.ReasoningEffort == "" && rs.BudgetTokens > 0 {
			w.ReasoningEffort = llm.BudgetEffort(rs.BudgetTokens)
		}
	}
	w.Seed, w.FrequencyPenalty, w.PresencePenalty = r.Seed, r.FrequencyPenalty, r.PresencePenalty
}

// reasoningModel reports whether an OpenAI model id names a reasoning model (o-series, GPT-5 and
// later, Codex), which takes reasoning_effort; others (GPT-4o, GPT-4.1, compatible servers' models)
// refuse it, so a hint is left out for them.
func reasoningModel(model string) bool {
	m := strings.ToLower(strings.TrimPrefix(model, "ft:"))
	if len(m) >= 2 && m[0] == 'o' && m[1] >= '1' && m[1] <= '9' {
		return true
	}
	if v, ok := strings.CutPrefix(m, "gpt-"); ok && len(v) > 0 && v[0] >= '5' && v[0] <= '9' {
		return true
	}
	return strings.Contains(m, "codex")
}
