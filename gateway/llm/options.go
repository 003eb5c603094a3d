package llm

import (
	"encoding/json"
	"strings"

	"github.com/polydev/polydev"
)

// ResponseFormatType is the kind of structured output asked for.
type ResponseFormatType string

// The structured output kinds (OpenAI's response_format types; "text" is a nil ResponseFormat).
const (
	FormatJSONObject ResponseFormatType = "json_object" // any JSON object
	FormatJSONSchema ResponseFormatType = "json_schema" // JSON that follows Schema
)

// ResponseFormat asks the model to answer with JSON: any object, or one that follows a JSON Schema.
// The answer still arrives as message text, whichever way an adapter obtains it.
type ResponseFormat struct {
	Type ResponseFormatType
	// Name, Description, Schema and Strict are json_schema's; Name is required there (OpenAI's
	// rule: 1 to 64 letters, digits, underscores or dashes).
	Name        string
	Description string
	Schema      json.RawMessage // a JSON Schema object
	Strict      bool
}

// Reasoning effort levels: OpenAI's reasoning_effort scale, which the other adapters map onto
// their own controls (Anthropic thinking, Gemini thinkingConfig).
const (
	EffortNone    = "none"
	EffortMinimal = "minimal"
	EffortLow     = "low"
	EffortMedium  = "medium"
	EffortHigh    = "high"
	EffortXHigh   = "xhigh"
)

// Reasoning is how much the model should think before it answers. One of Effort and BudgetTokens
// is set; an adapter that needs the other derives it (EffortBudget, BudgetEffort).
type Reasoning struct {
	Effort string
	// BudgetTokens is an explicit thinking budget (Anthropic budget_tokens, Gemini thinkingBudget).
	BudgetTokens int
	// Hint marks a setting the client sends whatever the model (Claude Code's default thinking and
	// effort, Gemini CLI's thinkingConfig): an adapter whose model cannot reason leaves it out
	// instead of sending a field the provider would refuse. Without Hint the client asked for
	// reasoning explicitly (OpenAI's reasoning_effort) and it is sent.
	Hint bool
}

// effortBudgets maps effort levels to thinking budgets. Every value is within Anthropic's
// (at least 1024) and Gemini 2.5 Flash's (at most 24576) ranges.
var effortBudgets = map[string]int{
	EffortNone: 0, EffortMinimal: 1024, EffortLow: 2048, EffortMedium: 8192, EffortHigh: 16384, EffortXHigh: 24576,
}

// EffortBudget is the thinking budget of an effort level; ok is false for a level it does not know.
func EffortBudget(effort string) (budget int, ok bool) {
	budget, ok = effortBudgets[effort]
	return budget, ok
}

// BudgetEffort is the smallest effort level whose budget covers budget tokens.
func BudgetEffort(budget int) string {
	for _, e := range []string{EffortMinimal, EffortLow, EffortMedium, EffortHigh} {
		if budget <= effortBudgets[e] {
			return e
		}
	}
	return EffortXHigh
}

// Native wire formats: the client shape a request was decoded from.
const (
	NativeOpenAIChat = "openai-chat"
)

// Native lists request fields that only an upstream of the client's own wire format can honour.
// The same-format route forwards the client's body as written; a translated call refuses them.
type Native struct {
	Format string   // e.g. NativeOpenAIChat
	Fields []string // the field names as the client wrote them, in body order
}

// Add records a field.
func (n *Native) Add(field string) { n.Fields = append(n.Fields, field) }

// Refuse is the error a translated call answers when the request holds fields only its own wire
// format can carry: a polydev.EINVALID naming the first one and the provider (the gateway refuses,
// not the upstream). nil when there are none, or when format (the upstream's wire format) is the
// client's own.
func (n *Native) Refuse(provider, format string) error {
	if len(n.Fields) == 0 || format == n.Format {
		return nil
	}
	more := ""
	if len(n.Fields) > 1 {
		more = " (also: " + strings.Join(n.Fields[1:], ", ") + ")"
	}
	return polydev.Errorf(polydev.EINVALID, "%s: not supported when the model is served by %s; remove it or choose an %s model%s",
		n.Fields[0], provider, nativeProvider(n.Format), more)
}

func nativeProvider(format string) string {
	if format == NativeOpenAIChat {
		return "OpenAI"
	}
	return format
}
