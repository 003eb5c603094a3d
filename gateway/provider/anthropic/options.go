package anthropic

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

// Structured output, reasoning and sampling options on the Messages API (gateway/README.md has the
// table):
//   - json_schema: output_config.format on models with structured outputs (Claude 4.5 and later);
//     on older models, and for json_object (which has no schema, while output_config.format
//     requires one), a forced call of the tool jsonToolName whose input is the answer, rendered
//     back as message text (jsontool.go).
//   - reasoning: thinking {type: adaptive} + output_config.effort on Claude 4.6 and later (where
//     budget_tokens is deprecated or refused), thinking {type: enabled, budget_tokens} before.
//   - seed and the penalties: the Messages API has no such controls; refused.

type wireThinking struct {
	Type         string `json:"type"` // enabled, adaptive
	BudgetTokens int    `json:"budget_tokens,omitempty"`
}

type wireOutputConfig struct {
	Format *wireOutputFormat `json:"format,omitempty"`
	Effort string            `json:"effort,omitempty"`
}

type wireOutputFormat struct {
	Type   string          `json:"type"` // json_schema
	Schema json.RawMessage `json:"schema"`
}

// minThinkingBudget is the smallest budget_tokens the API accepts.
const minThinkingBudget = 1024

// anyObject is the schema of json_object's tool: any JSON object.
var anyObject = json.RawMessage(`{"type":"object"}`)

// checkOptions refuses what the Messages API cannot honour, naming the client's field.
func checkOptions(r *llm.Request) error {
	switch {
	case r.Seed != nil:
		return unsupported("seed")
	case r.FrequencyPenalty != nil:
		return unsupported("frequency_penalty")
	case r.PresencePenalty != nil:
		return unsupported("presence_penalty")
	case r.ResponseFormat != nil && r.ResponseFormat.Type == llm.FormatJSONSchema && len(r.ResponseFormat.Schema) == 0:
		return polydev.Errorf(polydev.EINVALID, "response_format.json_schema.schema: required for Anthropic models")
	}
	if err := checkJSONTool(r); err != nil {
		return err
	}
	if !thinking(r) {
		return nil
	}
	if _, ok := llm.EffortBudget(r.Reasoning.Effort); !ok && r.Reasoning.BudgetTokens == 0 {
		return polydev.Errorf(polydev.EINVALID, "reasoning_effort: %q is not a level Anthropic models can map (none, minimal, low, medium, high, xhigh)", r.Reasoning.Effort)
	}
	if !adaptiveThinking(r.Model) && r.MaxTokens > 0 && r.MaxTokens <= minThinkingBudget {
		return polydev.Errorf(polydev.EINVALID, "max_completion_tokens: must be above %d with reasoning_effort on %s (its thinking budget counts within it)", minThinkingBudget, r.Model)
	}
	// Extended thinking refuses a changed temperature and forced tool use.
	switch {
	case r.Temperature != nil:
		return polydev.Errorf(polydev.EINVALID, "temperature: cannot be combined with reasoning_effort on Anthropic models (extended thinking needs the default temperature)")
	case len(r.Tools) > 0 && (r.ToolChoice.Mode == llm.ToolChoiceRequired || r.ToolChoice.Mode == llm.ToolChoiceTool):
		return polydev.Errorf(polydev.EINVALID, "tool_choice: a required or named tool cannot be combined with reasoning_effort on Anthropic models")
	case useJSONTool(r):
		return polydev.Errorf(polydev.EINVALID, "response_format: %s cannot be combined with reasoning_effort on %s (it needs a forced tool call, which extended thinking refuses)", r.ResponseFormat.Type, r.Model)
	}
	return nil
}

func unsupported(field string) error {
	return polydev.Errorf(polydev.EINVALID, "%s: not supported by Anthropic models; remove it or choose another model", field)
}

// thinking reports whether the request asks for extended thinking. A hint (llm.Reasoning.Hint)
// that extended thinking could not honour on this request (a model before Claude 3.7, a changed
// temperature, a forced tool, a cap too small for a budget) is left out rather than refused.
func thinking(r *llm.Request) bool {
	rs := r.Reasoning
	if rs == nil || rs.BudgetTokens <= 0 && (rs.Effort == "" || rs.Effort == llm.EffortNone) {
		return false
	}
	if !rs.Hint {
		return true
	}
	_, known := llm.EffortBudget(rs.Effort)
	forced := len(r.Tools) > 0 && (r.ToolChoice.Mode == llm.ToolChoiceRequired || r.ToolChoice.Mode == llm.ToolChoiceTool)
	return (known || rs.BudgetTokens > 0) && atLeast(r.Model, 3, 7) && r.Temperature == nil && !forced && !useJSONTool(r) &&
		(adaptiveThinking(r.Model) || r.MaxTokens == 0 || r.MaxTokens > minThinkingBudget)
}

// encodeOptions sets thinking and output_config; checkOptions has passed. w.MaxTokens grows by
// the thinking budget when the client set no cap.
func encodeOptions(r *llm.Request, w *wireRequest) {
	if f := r.ResponseFormat; f != nil && f.Type == llm.FormatJSONSchema && !useJSONTool(r) {
		w.OutputConfig = &wireOutputConfig{Format: &wireOutputFormat{Type: "json_schema", Schema: f.Schema}}
	}
	if !thinking(r) {
		return
	}
	if adaptiveThinking(r.Model) {
		w.Thinking = &wireThinking{Type: "adaptive"}
		if w.OutputConfig == nil {
			w.OutputConfig = &wireOutputConfig{}
		}
		w.OutputConfig.Effort = anthropicEffort(r.Reasoning)
		return
	}
	budget := r.Reasoning.BudgetTokens
	if budget == 0 {
		budget, _ = llm.EffortBudget(r.Reasoning.Effort)
	}
	budget = max(budget, minThinkingBudget)
	// max_tokens covers thinking and answer (as OpenAI's max_completion_tokens covers reasoning):
	// a client's cap stays the cap and the budget shrinks to fit it; without a cap the default
	// answer room comes on top of the budget.
	if r.MaxTokens > 0 {
		budget = max(min(budget, w.MaxTokens-1), minThinkingBudget) // checkOptions: MaxTokens > 1024
	} else {
		w.MaxTokens += budget
	}
	w.Thinking = &wireThinking{Type: "enabled", BudgetTokens: budget}
}

// anthropicEffort maps OpenAI's effort scale onto output_config.effort (low, medium, high, max).
func anthropicEffort(rs *llm.Reasoning) string {
	e := rs.Effort
	if e == "" {
		e = llm.BudgetEffort(rs.BudgetTokens)
	}
	switch e {
	case llm.EffortMinimal, llm.EffortLow:
		return "low"
	case llm.EffortMedium:
		return "medium"
	case llm.EffortXHigh:
		return "max"
	}
	return "high"
}

// claudeVersion reads the model generation from an id: claude-sonnet-4-5-20250929 → 4.5,
// claude-3-7-sonnet-latest → 3.7, claude-sonnet-4-20250514 → 4.0. ok is false when the id names
// no version (an alias this code does not know): callers then assume a current model.
func claudeVersion(model string) (major, minor int, ok bool) {
	nums := 0
	for _, tok := range strings.Split(strings.ToLower(model), "-") {
		if len(tok) == 0 || len(tok) > 2 {
			continue
		}
		n, err := strconv.Atoi(tok)
		if err != nil {
			continue
		}
		if nums == 0 {
			major = n
		} else {
			return major, n, true
		}
		nums++
	}
	return major, 0, nums > 0
}

func atLeast(model string, major, minor int) bool {
	ma, mi, ok := claudeVersion(model)
	return !ok || ma > major || ma == major && mi >= minor
}

// adaptiveThinking: Claude 4.6 and later take thinking {type: adaptive} with an effort; manual
// budgets are deprecated there (and refused from Opus 4.7 on).
func adaptiveThinking(model string) bool { return atLeast(model, 4, 6) }

// structuredOutputs: output_config.format is generally available from Claude 4.5 on.
func structuredOutputs(model string) bool { return atLeast(model, 4, 5) }
