package anthropic

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
)

// TestDecodeOptions: thinking and output_config map onto the canonical reasoning (a hint: Claude
// Code sends them whatever the model) and structured output; what has no equivalent is dropped;
// malformed values are refused naming the field.
func TestDecodeOptions(t *testing.T) {
	t.Parallel()
	const schema = `{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false}`
	hint := func(e string) *llm.Reasoning { return &llm.Reasoning{Effort: e, Hint: true} }
	for _, c := range []struct {
		name, fields string
		reasoning    *llm.Reasoning
		format       *llm.ResponseFormat
		err          string
	}{
		{"none", ``, nil, nil, ""},
		{"enabled budget", `"thinking":{"type":"enabled","budget_tokens":10000}`, hint(llm.EffortHigh), nil, ""},
		{"enabled small budget", `"thinking":{"type":"enabled","budget_tokens":2000}`, hint(llm.EffortLow), nil, ""},
		{"Claude Code's default", `"thinking":{"type":"adaptive","display":"omitted"},"output_config":{"effort":"medium"}`, hint(llm.EffortMedium), nil, ""},
		{"adaptive alone: the model's default", `"thinking":{"type":"adaptive"}`, nil, nil, ""},
		{"disabled", `"thinking":{"type":"disabled"}`, nil, nil, ""},
		{"effort alone", `"output_config":{"effort":"low"}`, hint(llm.EffortLow), nil, ""},
		{"max", `"output_config":{"effort":"max"}`, hint(llm.EffortXHigh), nil, ""},
		{"xhigh", `"output_config":{"effort":"xhigh"}`, hint(llm.EffortXHigh), nil, ""},
		{"effort wins over budget", `"thinking":{"type":"enabled","budget_tokens":1024},"output_config":{"effort":"high"}`, hint(llm.EffortHigh), nil, ""},
		{"task budget dropped", `"output_config":{"task_budget":{"type":"tokens","total":400000}}`, nil, nil, ""},
		{"format", `"output_config":{"format":{"type":"json_schema","schema":` + schema + `},"effort":"high"}`, hint(llm.EffortHigh),
			&llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "response", Schema: json.RawMessage(schema)}, ""},
		{"beta output_format", `"output_format":{"type":"json_schema","schema":` + schema + `}`, nil,
			&llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "response", Schema: json.RawMessage(schema)}, ""},
		{"unknown thinking type", `"thinking":{"type":"sometimes"}`, nil, nil, "thinking.type: must be enabled, adaptive or disabled"},
		{"enabled without budget", `"thinking":{"type":"enabled"}`, nil, nil, "thinking.budget_tokens: Field required"},
		{"bad budget", `"thinking":{"type":"enabled","budget_tokens":0}`, nil, nil, "thinking.budget_tokens: must be at least 1"},
		{"bad effort", `"output_config":{"effort":"extreme"}`, nil, nil, "output_config.effort: must be low, medium, high, xhigh or max"},
		{"bad format type", `"output_config":{"format":{"type":"xml"}}`, nil, nil, "output_config.format.type: must be json_schema"},
		{"format without schema", `"output_config":{"format":{"type":"json_schema"}}`, nil, nil, "output_config.format.schema: must be a JSON Schema object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := `{"model":"openai/gpt-5","max_tokens":20000,"messages":[{"role":"user","content":"hi"}]`
			if c.fields != "" {
				body += "," + c.fields
			}
			r, err := DecodeRequest([]byte(body + "}"))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Reasoning, c.reasoning) || !reflect.DeepEqual(r.ResponseFormat, c.format) {
				t.Fatalf("reasoning %+v format %+v", r.Reasoning, r.ResponseFormat)
			}
		})
	}
}
