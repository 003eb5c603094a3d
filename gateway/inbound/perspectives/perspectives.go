// Package perspectives is the shape of the MCP tool get_perspectives: its arguments become one
// canonical request per model, and each model's outcome (its answer with usage and cost, or its
// error) becomes one entry of the tool's result. It holds no transport and no routing: package mcp
// serves the tool and runs the calls through the gateway router.
package perspectives

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// Limits on one call: a fan-out is as many gateway requests as it names models, so the list is
// short; the prompt is bounded like a gateway body.
const (
	MaxModels      = 8
	MaxPromptBytes = 1 << 20
	MaxTokensLimit = 1 << 20
)

// Input is get_perspectives' arguments.
type Input struct {
	Prompt    string   `json:"prompt" jsonschema:"the question or task to put to every model"`
	Models    []string `json:"models,omitempty" jsonschema:"models to ask at once, as provider/model (see list_models); default: one model per provider you can use"`
	System    string   `json:"system,omitempty" jsonschema:"optional system prompt sent to every model"`
	MaxTokens int      `json:"max_tokens,omitempty" jsonschema:"optional cap on each answer's length in tokens"`
}

// Validate checks the arguments; models are checked by the caller's router, each on its own.
func (in *Input) Validate() error {
	switch {
	case strings.TrimSpace(in.Prompt) == "":
		return polydev.Errorf(polydev.EINVALID, "prompt is required")
	case len(in.Prompt)+len(in.System) > MaxPromptBytes:
		return polydev.Errorf(polydev.ETOOLARGE, "prompt and system together must be at most %d bytes", MaxPromptBytes)
	case !utf8.ValidString(in.Prompt) || !utf8.ValidString(in.System):
		return polydev.Errorf(polydev.EINVALID, "prompt and system must be UTF-8 text")
	case len(in.Models) > MaxModels:
		return polydev.Errorf(polydev.EINVALID, "at most %d models per call, got %d", MaxModels, len(in.Models))
	case in.MaxTokens < 0 || in.MaxTokens > MaxTokensLimit:
		return polydev.Errorf(polydev.EINVALID, "max_tokens must be between 1 and %d, or omitted", MaxTokensLimit)
	}
	seen := map[string]bool{}
	for _, m := range in.Models {
		k := strings.ToLower(strings.TrimSpace(m))
		if k == "" {
			return polydev.Errorf(polydev.EINVALID, "models must not contain an empty name")
		}
		if seen[k] {
			return polydev.Errorf(polydev.EINVALID, "model %q is named twice", m)
		}
		seen[k] = true
	}
	return nil
}

// Request is the canonical request one model is asked: each model gets its own, since the router
// rewrites the model in place.
func (in *Input) Request(model string) *llm.Request {
	return &llm.Request{
		Model:     model,
		System:    in.System,
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Kind: llm.PartText, Text: in.Prompt}}}},
		MaxTokens: in.MaxTokens,
	}
}

// Usage is one answer's token counts (the gateway's usage record's; subsets as in llm.Usage).
type Usage struct {
	InputTokens     int `json:"input_tokens"`
	OutputTokens    int `json:"output_tokens"`
	CachedTokens    int `json:"cached_tokens,omitempty"`
	ReasoningTokens int `json:"reasoning_tokens,omitempty"`
}

// Failure is why one model gave no answer, in the gateway's terms.
type Failure struct {
	Status            int    `json:"status"` // the HTTP status the gateway would have answered
	Code              string `json:"code"`   // Polydev's code, or the upstream failure's kind
	Message           string `json:"message"`
	RetryAfterSeconds int    `json:"retry_after_seconds,omitempty"`
}

// Answer is one model's outcome: Text with Usage and Cost, or Error.
type Answer struct {
	Model      string   `json:"model"`
	Text       string   `json:"text,omitempty"`
	Usage      *Usage   `json:"usage,omitempty"`
	Cost       float64  `json:"cost_usd"` // US dollars (a float: MCP tools declare JSON Schema types)
	DurationMS int64    `json:"duration_ms"`
	Error      *Failure `json:"error,omitempty"`
}

// Output is get_perspectives' structured result, answers in the order the models were named.
type Output struct {
	Answers   []Answer `json:"answers"`
	TotalCost float64  `json:"total_cost_usd"`
}

// Succeeded answers with a model's text and the usage and cost its usage record holds.
func Succeeded(model, text string, u llm.Usage, cost polydev.Money) Answer {
	return Answer{Model: model, Text: text, Cost: cost.Dollars(), Usage: &Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
		CachedTokens: u.CacheReadTokens, ReasoningTokens: u.ReasoningTokens}}
}

// Failed describes err as the gateway's surfaces do: a client-safe message (never a key, never an
// internal error's text) with its status and code.
func Failed(model string, err error) Answer {
	c := wire.Classify(err)
	f := &Failure{Status: c.Status, Code: c.Code, Message: c.Message}
	if c.RetryAfter > 0 {
		f.RetryAfterSeconds = int((c.RetryAfter + 999_999_999) / 1_000_000_000)
	}
	return Answer{Model: model, Error: f}
}

// Text renders the output for an agent to read: each model's answer under its name, then its
// usage and cost, or why it failed.
func (o *Output) Text() string {
	var b strings.Builder
	for i, a := range o.Answers {
		if i > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "## %s\n\n", a.Model)
		if a.Error != nil {
			fmt.Fprintf(&b, "(failed: %s)", a.Error.Message)
			continue
		}
		b.WriteString(a.Text)
		fmt.Fprintf(&b, "\n\n(%d input + %d output tokens, %s, %d ms)", a.Usage.InputTokens, a.Usage.OutputTokens, dollars(a.Cost), a.DurationMS)
	}
	return b.String()
}

// AllFailed reports whether no model answered.
func (o *Output) AllFailed() bool {
	for _, a := range o.Answers {
		if a.Error == nil {
			return false
		}
	}
	return true
}

func dollars(f float64) string { return "$" + strconv.FormatFloat(f, 'f', -1, 64) }
