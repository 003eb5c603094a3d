package gemini

import (
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

// Structured output, reasoning and sampling options in generationConfig (gateway/README.md has the
// table): responseMimeType application/json (+ responseJsonSchema, which takes JSON Schema as
// written), seed, presencePenalty, frequencyPenalty, and thinkingConfig: thinkingLevel on Gemini 3
// and later, thinkingBudget on 2.x.

type wireThinkingConfig struct {
	ThinkingBudget *int   `json:"thinkingBudget,omitempty"`
	ThinkingLevel  string `json:"thinkingLevel,omitempty"`
}

func encodeOptions(r *llm.Request, gc *wireGenConfig) error {
	if f := r.ResponseFormat; f != nil {
		gc.ResponseMimeType = "application/json"
		if f.Type == llm.FormatJSONSchema {
			gc.ResponseJSONSchema = f.Schema
		}
	}
	gc.Seed, gc.PresencePenalty, gc.FrequencyPenalty = r.Seed, r.PresencePenalty, r.FrequencyPenalty
	if r.Reasoning == nil || r.Reasoning.Hint && !thinkingModel(r.Model) {
		return nil // a hint for a model without thinking (Gemini 1.x, 2.0) is left out
	}
	tc, err := thinkingConfig(r.Model, r.Reasoning)
	gc.ThinkingConfig = tc
	return err
}

// thinkingConfig maps the effort scale: Gemini 3 levels are named like OpenAI's (none becomes
// minimal, xhigh high: the nearest each has); Gemini 2.x takes the llm.EffortBudget budgets (none
// is 0, which turns thinking off where the model allows it).
func thinkingConfig(model string, rs *llm.Reasoning) (*wireThinkingConfig, error) {
	if !thinkingLevels(model) {
		budget := rs.BudgetTokens
		if budget == 0 {
			b, ok := llm.EffortBudget(rs.Effort)
			if !ok {
				return nil, badEffort(rs.Effort)
			}
			budget = b
		}
		return &wireThinkingConfig{ThinkingBudget: &budget}, nil
	}
	e := rs.Effort
	if e == "" {
		e = llm.BudgetEffort(rs.BudgetTokens)
	}
	switch e {
	case llm.EffortNone:
		e = llm.EffortMinimal
	case llm.EffortXHigh:
		e = llm.EffortHigh
	case llm.EffortMinimal, llm.EffortLow, llm.EffortMedium, llm.EffortHigh:
	default:
		return nil, badEffort(e)
	}
	return &wireThinkingConfig{ThinkingLevel: e}, nil
}

func badEffort(e string) error {
	return polydev.Errorf(polydev.EINVALID, "reasoning_effort: %q is not a level Gemini models can map (none, minimal, low, medium, high, xhigh)", e)
}

// thinkingModel: Gemini 2.5 and later think (and take thinkingConfig); 1.x and 2.0 refuse it.
func thinkingModel(model string) bool {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(model, "models/"), "gemini-")
	if !ok {
		return false
	}
	return !strings.HasPrefix(rest, "1") && !strings.HasPrefix(rest, "2.0") && !strings.HasPrefix(rest, "2-")
}

// thinkingLevels: Gemini 3 and later take thinkingLevel; 1.x and 2.x take thinkingBudget.
func thinkingLevels(model string) bool {
	rest, ok := strings.CutPrefix(strings.TrimPrefix(model, "models/"), "gemini-")
	if !ok {
		return false
	}
	return !strings.HasPrefix(rest, "1") && !strings.HasPrefix(rest, "2")
}
