package openai

import (
	"encoding/json"
	"slices"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// wireOptions are the generation options beyond messages and tools: structured output, reasoning,
// sampling, and the fields only OpenAI itself can honour. The table in gateway/README.md says what
// becomes of each on each provider.
type wireOptions struct {
	ResponseFormat   *wireResponseFormat `json:"response_format"`
	ReasoningEffort  *string             `json:"reasoning_effort"`
	Seed             *int64              `json:"seed"`
	FrequencyPenalty *float64            `json:"frequency_penalty"`
	PresencePenalty  *float64            `json:"presence_penalty"`

	// Native: carried to an OpenAI upstream as the client wrote them (passthrough), refused with a
	// 400 naming them on any other, unless they hold their default value.
	N                *int               `json:"n"`
	Logprobs         *bool              `json:"logprobs"`
	TopLogprobs      *int               `json:"top_logprobs"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	ServiceTier      *string            `json:"service_tier"`
	Modalities       []string           `json:"modalities"`
	Audio            json.RawMessage    `json:"audio"`
	Store            *bool              `json:"store"`
	Functions        json.RawMessage    `json:"functions"`
	FunctionCall     json.RawMessage    `json:"function_call"`
	WebSearchOptions json.RawMessage    `json:"web_search_options"`
	Verbosity        *string            `json:"verbosity"`

	// Hints with no effect on the answer's content: forwarded to OpenAI, dropped elsewhere.
	Prediction json.RawMessage   `json:"prediction"`
	Metadata   map[string]string `json:"metadata"`
}

type wireResponseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Schema      json.RawMessage `json:"schema"`
		Strict      *bool           `json:"strict"`
	} `json:"json_schema"`
}

// Bounds from OpenAI's API reference.
const (
	maxTopLogprobs = 20
	maxN           = 128
	maxEffortLen   = 32
	maxMetadata    = 16
)

func decodeOptions(w *wireOptions, r *llm.Request) error {
	if err := decodeResponseFormat(w.ResponseFormat, r); err != nil {
		return err
	}
	if w.ReasoningEffort != nil && *w.ReasoningEffort != "" {
		e := *w.ReasoningEffort
		if len(e) > maxEffortLen {
			return wire.Invalid("reasoning_effort", "longer than %d characters", maxEffortLen)
		}
		r.Reasoning = &llm.Reasoning{Effort: e}
	}
	r.Seed = w.Seed
	for _, p := range []struct {
		name string
		v    *float64
		dst  **float64
	}{{"frequency_penalty", w.FrequencyPenalty, &r.FrequencyPenalty}, {"presence_penalty", w.PresencePenalty, &r.PresencePenalty}} {
		if p.v == nil {
			continue
		}
		if *p.v < -2 || *p.v > 2 {
			return wire.Invalid(p.name, "must be between -2 and 2")
		}
		if *p.v != 0 { // 0 is the default: every provider honours it by doing nothing
			*p.dst = p.v
		}
	}
	return decodeNative(w, r)
}

// decodeNative checks the OpenAI-only fields and lists those that ask for something (a value other
// than the default) in r.Native.
func decodeNative(w *wireOptions, r *llm.Request) error {
	r.Native.Format = llm.NativeOpenAIChat
	switch {
	case w.N != nil && (*w.N < 1 || *w.N > maxN):
		return wire.Invalid("n", "must be between 1 and %d", maxN)
	case w.TopLogprobs != nil && (*w.TopLogprobs < 0 || *w.TopLogprobs > maxTopLogprobs):
		return wire.Invalid("top_logprobs", "must be between 0 and %d", maxTopLogprobs)
	case w.TopLogprobs != nil && *w.TopLogprobs > 0 && (w.Logprobs == nil || !*w.Logprobs):
		return wire.Invalid("top_logprobs", "requires logprobs: true")
	case len(w.Metadata) > maxMetadata:
		return wire.Invalid("metadata", "at most %d pairs", maxMetadata)
	}
	for k, v := range w.LogitBias {
		if v < -100 || v > 100 {
			return wire.Invalid("logit_bias."+k, "must be between -100 and 100")
		}
	}
	if w.N != nil && *w.N > 1 {
		r.Native.Add("n")
	}
	if w.Logprobs != nil && *w.Logprobs {
		r.Native.Add("logprobs")
	}
	if w.TopLogprobs != nil && *w.TopLogprobs > 0 {
		r.Native.Add("top_logprobs")
	}
	if len(w.LogitBias) > 0 {
		r.Native.Add("logit_bias")
	}
	if w.ServiceTier != nil && *w.ServiceTier != "" && *w.ServiceTier != "auto" && *w.ServiceTier != "default" {
		r.Native.Add("service_tier")
	}
	if len(w.Modalities) > 0 && !slices.Equal(w.Modalities, []string{"text"}) {
		r.Native.Add("modalities")
	}
	if w.Store != nil && *w.Store {
		r.Native.Add("store")
	}
	if w.Verbosity != nil && *w.Verbosity != "" && *w.Verbosity != "medium" {
		r.Native.Add("verbosity")
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"audio", w.Audio}, {"functions", w.Functions}, {"function_call", w.FunctionCall}, {"web_search_options", w.WebSearchOptions}} {
		if present(f.raw) {
			r.Native.Add(f.name)
		}
	}
	return nil
}

func decodeResponseFormat(f *wireResponseFormat, r *llm.Request) error {
	if f == nil {
		return nil
	}
	switch f.Type {
	case "", "text":
		return nil
	case "json_object":
		r.ResponseFormat = &llm.ResponseFormat{Type: llm.FormatJSONObject}
		return nil
	case "json_schema":
	default:
		return wire.Invalid("response_format.type", "must be \"text\", \"json_object\" or \"json_schema\", not %q", f.Type)
	}
	js := f.JSONSchema
	if js == nil {
		return wire.Invalid("response_format.json_schema", "required when type is \"json_schema\"")
	}
	if !wire.ValidToolName(js.Name) {
		return wire.Invalid("response_format.json_schema.name", "must be 1 to 64 letters, digits, underscores or dashes")
	}
	rf := &llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: js.Name, Description: js.Description, Strict: js.Strict != nil && *js.Strict}
	if present(js.Schema) {
		if !wire.IsObject(js.Schema) {
			return wire.Invalid("response_format.json_schema.schema", "must be a JSON Schema object")
		}
		rf.Schema = js.Schema
	}
	r.ResponseFormat = rf
	return nil
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }
