// Package openai is the inbound codec for the OpenAI Chat Completions shape (POST
// /v1/chat/completions): it parses a client's request body into an llm.Request and renders an
// llm.Response as a chat.completion, an llm.Stream as chat.completion.chunk events ending in
// `data: [DONE]`, and errors as {"error":{...}}. It does no routing, authentication or I/O beyond
// writing to the http.ResponseWriter it is given.
//
// Decoding is strict about what it knows and lenient about what it does not: every known field
// must have its documented type and a valid value, or the error names it (polydev.EINVALID);
// unknown fields are ignored so that clients sending newer or vendor fields keep working. The
// request shape has no field for an upstream URL or API key: a body carrying "api_key",
// "base_url" or the like is parsed as if they were absent.
package openai

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// Options are the parts of a request that shape the response rather than the generation.
type Options struct {
	// IncludeUsage is stream_options.include_usage: send the usage chunk before [DONE].
	IncludeUsage bool
}

type wireRequest struct {
	Model               string          `json:"model"`
	Messages            []wireMessage   `json:"messages"`
	Tools               []wireTool      `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stop                json.RawMessage `json:"stop"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	User string `json:"user"`
	wireOptions
}

type wireMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []wireToolCall  `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type wireToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type wirePart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
}

type wireTool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

// Limits that keep one request from growing the gateway's memory beyond its body size.
const (
	maxModelLen = 256
	maxStops    = 4
)

// DecodeRequest parses a Chat Completions request body.
func DecodeRequest(body []byte) (*llm.Request, Options, error) {
	var w wireRequest
	if err := wire.Decode(body, &w); err != nil {
		return nil, Options{}, err
	}
	r := &llm.Request{Model: w.Model, Temperature: w.Temperature, TopP: w.TopP, Stream: w.Stream, User: w.User}
	var opts Options
	if w.StreamOptions != nil {
		opts.IncludeUsage = w.StreamOptions.IncludeUsage
	}
	if err := checkScalars(&w, r); err != nil {
		return nil, opts, err
	}
	if err := decodeOptions(&w.wireOptions, r); err != nil {
		return nil, opts, err
	}
	if err := decodeTools(&w, r); err != nil {
		return nil, opts, err
	}
	if err := decodeMessages(w.Messages, r); err != nil {
		return nil, opts, err
	}
	return r, opts, nil
}

func checkScalars(w *wireRequest, r *llm.Request) error {
	switch {
	case w.Model == "":
		return polydev.Errorf(polydev.EINVALID, "model: required")
	case len(w.Model) > maxModelLen:
		return wire.Invalid("model", "longer than %d characters", maxModelLen)
	case len(w.Messages) == 0:
		return polydev.Errorf(polydev.EINVALID, "messages: at least one message is required")
	case w.Temperature != nil && (*w.Temperature < 0 || *w.Temperature > 2):
		return wire.Invalid("temperature", "must be between 0 and 2")
	case w.TopP != nil && (*w.TopP < 0 || *w.TopP > 1):
		return wire.Invalid("top_p", "must be between 0 and 1")
	}
	switch {
	case w.MaxCompletionTokens != nil:
		r.MaxTokens = *w.MaxCompletionTokens
	case w.MaxTokens != nil:
		r.MaxTokens = *w.MaxTokens
	}
	if (w.MaxCompletionTokens != nil || w.MaxTokens != nil) && r.MaxTokens < 1 {
		return wire.Invalid("max_completion_tokens", "must be at least 1")
	}
	stop, err := decodeStop(w.Stop)
	if err != nil {
		return err
	}
	r.Stop = stop
	return nil
}

// decodeStop accepts null, a string or an array of strings.
func decodeStop(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, wire.Invalid("stop", "must be a string or an array of strings")
	}
	if len(many) > maxStops {
		return nil, wire.Invalid("stop", "at most %d sequences", maxStops)
	}
	return many, nil
}

func decodeTools(w *wireRequest, r *llm.Request) error {
	names := map[string]bool{}
	for i, t := range w.Tools {
		field := "tools[" + itoa(i) + "]"
		if t.Type != "" && t.Type != "function" {
			return wire.Invalid(field+".type", "%q is not supported; only function tools are", t.Type)
		}
		if t.Function == nil {
			return wire.Invalid(field+".function", "required")
		}
		if !wire.ValidToolName(t.Function.Name) {
			return wire.Invalid(field+".function.name", "must be 1 to 64 letters, digits, underscores or dashes")
		}
		if names[t.Function.Name] {
			return wire.Invalid(field+".function.name", "%q is declared twice", t.Function.Name)
		}
		names[t.Function.Name] = true
		params := t.Function.Parameters
		if string(params) == "null" {
			params = nil
		}
		if len(params) > 0 && !wire.IsObject(params) {
			return wire.Invalid(field+".function.parameters", "must be a JSON Schema object")
		}
		r.Tools = append(r.Tools, llm.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: params})
	}
	if w.ParallelToolCalls != nil && !*w.ParallelToolCalls {
		r.ToolChoice.DisableParallel = true
	}
	raw := w.ToolChoice
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if isString, err := wire.StringToolChoice(raw, r); isString {
		return err
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &named); err != nil || named.Type != "function" {
		return wire.Invalid("tool_choice", "must be \"none\", \"auto\", \"required\" or {\"type\":\"function\",...}")
	}
	if !names[named.Function.Name] {
		return wire.Invalid("tool_choice.function.name", "%q is not among tools", named.Function.Name)
	}
	r.ToolChoice.Mode, r.ToolChoice.Name = llm.ToolChoiceTool, named.Function.Name
	return nil
}

func decodeMessages(msgs []wireMessage, r *llm.Request) error {
	var system []string
	calls := map[string]bool{} // tool call ids seen so far, for checking results
	r.Messages = make([]llm.Message, 0, len(msgs))
	for i, m := range msgs {
		field := "messages[" + itoa(i) + "]"
		switch m.Role {
		case "system", "developer":
			text, err := textContent(field, m.Content, false)
			if err != nil {
				return err
			}
			if text != "" {
				system = append(system, text)
			}
		case "user":
			parts, err := userParts(field, m.Content)
			if err != nil {
				return err
			}
			r.Messages = append(r.Messages, llm.Message{Role: llm.RoleUser, Content: parts})
		case "assistant":
			msg, err := assistantMessage(field, &m, calls)
			if err != nil {
				return err
			}
			r.Messages = append(r.Messages, msg)
		case "tool":
			if m.ToolCallID == "" {
				return wire.Invalid(field+".tool_call_id", "required")
			}
			if !calls[m.ToolCallID] {
				return wire.Invalid(field+".tool_call_id", "%q answers no earlier tool call", m.ToolCallID)
			}
			text, err := textContent(field, m.Content, true)
			if err != nil {
				return err
			}
			part := llm.Part{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: m.ToolCallID, Content: []llm.Part{llm.TextPart(text)}}}
			// Consecutive tool messages answer one assistant turn: keep them in one canonical message.
			if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == llm.RoleTool {
				r.Messages[n-1].Content = append(r.Messages[n-1].Content, part)
			} else {
				r.Messages = append(r.Messages, llm.Message{Role: llm.RoleTool, Content: []llm.Part{part}})
			}
		case "":
			return wire.Invalid(field+".role", "required")
		default:
			return wire.Invalid(field+".role", "%q is not supported", m.Role)
		}
	}
	if len(r.Messages) == 0 {
		return polydev.Errorf(polydev.EINVALID, "messages: at least one user message is required")
	}
	r.System = strings.Join(system, "\n\n")
	return nil
}

// textContent reads a string or an array of text parts; a missing or null content is "" when
// allowed.
func textContent(field string, raw json.RawMessage, nullOK bool) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		if nullOK {
			return "", nil
		}
		return "", wire.Invalid(field+".content", "required")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", wire.Invalid(field+".content", "invalid string")
		}
		return s, nil
	}
	var parts []wirePart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", wire.Invalid(field+".content", "must be a string or an array of content parts")
	}
	var b strings.Builder
	for j, p := range parts {
		if p.Type != "text" {
			return "", wire.Invalid(field+".content["+itoa(j)+"].type", "%q is not allowed here; only text", p.Type)
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

func userParts(field string, raw json.RawMessage) ([]llm.Part, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, wire.Invalid(field+".content", "required")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, wire.Invalid(field+".content", "invalid string")
		}
		return []llm.Part{llm.TextPart(s)}, nil
	}
	var parts []wirePart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, wire.Invalid(field+".content", "must be a string or an array of content parts")
	}
	out := make([]llm.Part, 0, len(parts))
	for j, p := range parts {
		pf := field + ".content[" + itoa(j) + "]"
		switch p.Type {
		case "text":
			out = append(out, llm.TextPart(p.Text))
		case "image_url":
			if p.ImageURL == nil {
				return nil, wire.Invalid(pf+".image_url", "required")
			}
			img, err := parseImageURL(pf+".image_url.url", p.ImageURL.URL)
			if err != nil {
				return nil, err
			}
			out = append(out, llm.Part{Kind: llm.PartImage, Image: img})
		default:
			return nil, wire.Invalid(pf+".type", "%q is not supported", p.Type)
		}
	}
	return out, nil
}

// parseImageURL accepts an http(s) URL or a base64 data URL of an image.
func parseImageURL(field, u string) (*llm.Image, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mediaType, isBase64 := strings.CutSuffix(meta, ";base64")
		if !ok || !isBase64 || !strings.HasPrefix(mediaType, "image/") || data == "" {
			return nil, wire.Invalid(field, "a data URL must look like data:image/png;base64,...")
		}
		return &llm.Image{MediaType: mediaType, Data: data}, nil
	}
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return &llm.Image{URL: u}, nil
	}
	return nil, wire.Invalid(field, "must be an http(s) URL or a base64 data URL")
}

func assistantMessage(field string, m *wireMessage, calls map[string]bool) (llm.Message, error) {
	msg := llm.Message{Role: llm.RoleAssistant}
	if len(m.Content) > 0 && string(m.Content) != "null" {
		if m.Content[0] == '"' {
			var s string
			if err := json.Unmarshal(m.Content, &s); err != nil {
				return msg, wire.Invalid(field+".content", "invalid string")
			}
			if s != "" {
				msg.Content = append(msg.Content, llm.TextPart(s))
			}
		} else {
			var parts []wirePart
			if err := json.Unmarshal(m.Content, &parts); err != nil {
				return msg, wire.Invalid(field+".content", "must be a string or an array of content parts")
			}
			for j, p := range parts {
				switch p.Type {
				case "text":
					msg.Content = append(msg.Content, llm.TextPart(p.Text))
				case "refusal":
					msg.Content = append(msg.Content, llm.TextPart(p.Refusal))
				default:
					return msg, wire.Invalid(field+".content["+itoa(j)+"].type", "%q is not allowed in assistant messages", p.Type)
				}
			}
		}
	}
	for j, tc := range m.ToolCalls {
		tf := field + ".tool_calls[" + itoa(j) + "]"
		if tc.Type != "" && tc.Type != "function" {
			return msg, wire.Invalid(tf+".type", "%q is not supported", tc.Type)
		}
		if tc.ID == "" {
			return msg, wire.Invalid(tf+".id", "required")
		}
		if tc.Function.Name == "" {
			return msg, wire.Invalid(tf+".function.name", "required")
		}
		args := tc.Function.Arguments
		if strings.TrimSpace(args) == "" {
			args = "{}"
		}
		if !json.Valid([]byte(args)) {
			return msg, wire.Invalid(tf+".function.arguments", "must be JSON text")
		}
		calls[tc.ID] = true
		msg.Content = append(msg.Content, llm.Part{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: json.RawMessage(args)}})
	}
	if len(msg.Content) == 0 {
		return msg, wire.Invalid(field, "an assistant message needs content or tool_calls")
	}
	return msg, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
