package anthropic

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// Generation options of the Messages API on a translated route (an Anthropic model gets the body
// as written). What maps:
//
//	thinking {type: enabled, budget_tokens}  → Reasoning, the effort whose budget covers it
//	thinking {type: adaptive} + output_config.effort, or effort alone → Reasoning effort
//	  (low, medium, high, xhigh as they are; max → xhigh)
//	output_config.format {type: json_schema, schema} (and the older top-level output_format)
//	  → ResponseFormat json_schema named "response", not strict (Anthropic does not ask for
//	  every property to be required, OpenAI's strict mode does)
//
// Dropped knowingly: thinking {type: disabled} and adaptive thinking without an effort (the
// model's own default), thinking.display, output_config.task_budget (advisory, no equivalent).
// Anthropic clients send thinking and effort whatever the model (Claude Code does by default),
// so the Reasoning is a hint: an adapter whose model cannot reason leaves it out rather than
// fail the request.

type wireThinking struct {
	Type         string `json:"type"`
	BudgetTokens *int   `json:"budget_tokens"`
}

type wireOutputConfig struct {
	Effort string            `json:"effort"`
	Format *wireOutputFormat `json:"format"`
}

type wireOutputFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema"`
}

// efforts maps output_config.effort onto the canonical (OpenAI) effort scale.
var efforts = map[string]string{
	"low": llm.EffortLow, "medium": llm.EffortMedium, "high": llm.EffortHigh, "xhigh": llm.EffortXHigh, "max": llm.EffortXHigh,
}

// decodeOptions maps thinking, output_config and output_format onto r.
func decodeOptions(w *wireRequest, r *llm.Request) error {
	effort := ""
	if oc := w.OutputConfig; oc != nil && oc.Effort != "" {
		e, ok := efforts[oc.Effort]
		if !ok {
			return wire.Invalid("output_config.effort", "must be low, medium, high, xhigh or max, not %q", oc.Effort)
		}
		effort = e
	}
	if t := w.Thinking; t != nil {
		switch t.Type {
		case "enabled":
			if t.BudgetTokens == nil {
				return wire.Invalid("thinking.budget_tokens", "Field required")
			}
			if *t.BudgetTokens < 1 {
				return wire.Invalid("thinking.budget_tokens", "must be at least 1")
			}
			if effort == "" {
				effort = llm.BudgetEffort(*t.BudgetTokens)
			}
		case "adaptive", "disabled":
		default:
			return wire.Invalid("thinking.type", "must be enabled, adaptive or disabled, not %q", t.Type)
		}
	}
	if effort != "" {
		r.Reasoning = &llm.Reasoning{Effort: effort, Hint: true}
	}
	f, field := w.OutputFormat, "output_format"
	if oc := w.OutputConfig; oc != nil && oc.Format != nil {
		f, field = oc.Format, "output_config.format"
	}
	if f == nil {
		return nil
	}
	if f.Type != "json_schema" {
		return wire.Invalid(field+".type", "must be json_schema, not %q", f.Type)
	}
	if len(f.Schema) == 0 || f.Schema[0] != '{' {
		return wire.Invalid(field+".schema", "must be a JSON Schema object")
	}
	r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "response", Schema: f.Schema}
	return nil
}
