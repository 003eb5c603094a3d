// Package responses is the inbound codec for the OpenAI Responses API (POST /v1/responses), the
// only API Codex CLI speaks: it parses a client's request into an llm.Request for routes that cross
// providers, and renders an llm.Response as a response object, an llm.Stream as the Responses
// streaming events (response.created ... response.completed), and errors in OpenAI's
// {"error":{...}} shape. It does no routing, authentication or I/O beyond writing to the
// http.ResponseWriter it is given.
//
// Decoding is strict about what it knows (types, ranges, item pairing, tool names; the message
// names the field) and ignores unknown fields. What needs server-side state (previous_response_id,
// conversation, item_reference, background) and hosted tools no other provider runs (web_search,
// file_search, local_shell, ...) are refused with a 400 naming the field: see gateway/README.md.
package responses

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// Options are the parts of a request that shape the answer rather than the generation.
type Options struct {
	// Model is the model as the client named it, echoed in the response object.
	Model string
	// Tools maps the name the model knows a tool by to the client's tool, for the tools whose calls
	// do not go back as a plain function_call of that name: freeform (type "custom") tools, which
	// the model calls as functions with one string argument "input", and tools declared inside a
	// namespace.
	Tools map[string]ToolRef
	// Store, Temperature, TopP, MaxOutputTokens, ParallelToolCalls and Metadata are echoed in the
	// response object as the client sent them.
	Store             bool
	Temperature       *float64
	TopP              *float64
	MaxOutputTokens   int
	ParallelToolCalls bool
	ToolChoice        json.RawMessage
	Metadata          json.RawMessage
	User              string
}

type wireRequest struct {
	Model              string          `json:"model"`
	Input              json.RawMessage `json:"input"`
	Instructions       *string         `json:"instructions"`
	Tools              []wireTool      `json:"tools"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	ParallelToolCalls  *bool           `json:"parallel_tool_calls"`
	MaxOutputTokens    *int            `json:"max_output_tokens"`
	Temperature        *float64        `json:"temperature"`
	TopP               *float64        `json:"top_p"`
	Stream             bool            `json:"stream"`
	Store              *bool           `json:"store"`
	User               string          `json:"user"`
	SafetyIdentifier   string          `json:"safety_identifier"`
	Metadata           json.RawMessage `json:"metadata"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Conversation       json.RawMessage `json:"conversation"`
	Prompt             json.RawMessage `json:"prompt"`
	Background         *bool           `json:"background"`
	Text               *struct {
		Format json.RawMessage `json:"format"`
	} `json:"text"`
}

// Limits that keep one request from growing the gateway's memory beyond its body size.
const (
	maxModelLen        = 256
	maxGrammarInPrompt = 16 << 10 // a longer grammar is left out of the schema's description
	maxTools           = 512
)

// ref is the client's view of the tool the model calls name.
func (o *Options) ref(name string) ToolRef {
	if r, ok := o.Tools[name]; ok {
		return r
	}
	return ToolRef{Name: name}
}

// DecodeRequest parses a Responses API request body.
func DecodeRequest(body []byte) (*llm.Request, Options, error) {
	var w wireRequest
	if err := wire.Decode(body, &w); err != nil {
		return nil, Options{}, err
	}
	opts := Options{Model: w.Model, Store: w.Store == nil || *w.Store, Temperature: w.Temperature, TopP: w.TopP,
		ParallelToolCalls: w.ParallelToolCalls == nil || *w.ParallelToolCalls, ToolChoice: w.ToolChoice, Metadata: w.Metadata, User: w.User}
	r := &llm.Request{Model: w.Model, Temperature: w.Temperature, TopP: w.TopP, Stream: w.Stream, User: w.User}
	if r.User == "" {
		r.User = w.SafetyIdentifier
	}
	if err := checkScalars(&w, r, &opts); err != nil {
		return nil, opts, err
	}
	tc := toolCollector{r: r, opts: &opts, names: map[string]bool{}}
	if err := tc.add("tools", w.Tools); err != nil {
		return nil, opts, err
	}
	if err := decodeInput(w.Input, r, &tc); err != nil {
		return nil, opts, err
	}
	if w.ParallelToolCalls != nil && !*w.ParallelToolCalls {
		r.ToolChoice.DisableParallel = true
	}
	if err := decodeToolChoice(w.ToolChoice, &tc, r); err != nil {
		return nil, opts, err
	}
	if w.Instructions != nil && *w.Instructions != "" {
		// Instructions come before any system or developer message of the input.
		r.System = strings.TrimSuffix(*w.Instructions+"\n\n"+r.System, "\n\n")
	}
	return r, opts, nil
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

func checkScalars(w *wireRequest, r *llm.Request, opts *Options) error {
	switch {
	case w.Model == "":
		return polydev.Errorf(polydev.EINVALID, "model: required")
	case len(w.Model) > maxModelLen:
		return wire.Invalid("model", "longer than %d characters", maxModelLen)
	case !present(w.Input):
		return polydev.Errorf(polydev.EINVALID, "input: required")
	case w.Temperature != nil && (*w.Temperature < 0 || *w.Temperature > 2):
		return wire.Invalid("temperature", "must be between 0 and 2")
	case w.TopP != nil && (*w.TopP < 0 || *w.TopP > 1):
		return wire.Invalid("top_p", "must be between 0 and 1")
	case w.MaxOutputTokens != nil && *w.MaxOutputTokens < 1:
		return wire.Invalid("max_output_tokens", "must be at least 1")
	case w.PreviousResponseID != nil && *w.PreviousResponseID != "":
		return wire.Invalid("previous_response_id", "Polydev does not keep responses; send the whole conversation in input (with store: false)")
	case present(w.Conversation):
		return wire.Invalid("conversation", "Polydev does not keep conversations for this API; send the whole conversation in input")
	case present(w.Prompt):
		return wire.Invalid("prompt", "stored prompt templates are not supported; send instructions and input")
	case w.Background != nil && *w.Background:
		return wire.Invalid("background", "background responses are not supported")
	}
	if w.MaxOutputTokens != nil {
		r.MaxTokens, opts.MaxOutputTokens = *w.MaxOutputTokens, *w.MaxOutputTokens
	}
	if w.Text != nil && present(w.Text.Format) {
		var f struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(w.Text.Format, &f) != nil {
			return wire.Invalid("text.format", "must be an object with a type")
		}
		if f.Type != "" && f.Type != "text" {
			return wire.Invalid("text.format.type", "%q is not supported yet", f.Type)
		}
	}
	return nil
}

// wireItem is one input item. Messages may omit type ("role" alone makes an easy input message).
type wireItem struct {
	Type      string          `json:"type"`
	Role      string          `json:"role"`
	Content   json.RawMessage `json:"content"`
	CallID    string          `json:"call_id"`
	Name      string          `json:"name"`
	Arguments *string         `json:"arguments"`
	Input     *string         `json:"input"`
	Output    json.RawMessage `json:"output"`
	Namespace string          `json:"namespace"`
	Tools     []wireTool      `json:"tools"`
}

type wirePart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Refusal  string `json:"refusal"`
	ImageURL string `json:"image_url"`
	FileID   string `json:"file_id"`
}

// decodeInput turns the input (a string, or a list of items) into canonical messages.
func decodeInput(raw json.RawMessage, r *llm.Request, tc *toolCollector) error {
	raw = bytes.TrimSpace(raw)
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return wire.Invalid("input", "invalid string")
		}
		r.Messages = []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart(s)}}}
		return nil
	}
	var items []wireItem
	if err := json.Unmarshal(raw, &items); err != nil {
		return wire.Invalid("input", "must be a string or an array of input items")
	}
	d := decoder{r: r, calls: map[string]string{}, tools: tc}
	for i := range items {
		if err := d.item("input["+itoa(i)+"]", &items[i]); err != nil {
			return err
		}
	}
	if len(r.Messages) == 0 {
		return polydev.Errorf(polydev.EINVALID, "input: at least one user message is required")
	}
	r.System = strings.Join(d.system, "\n\n")
	return nil
}

type decoder struct {
	r      *llm.Request
	system []string
	calls  map[string]string // call id -> tool name, of the calls seen so far
	tools  *toolCollector
}

// appendPart adds a part to the last message when it has role, else starts a message: a
// function_call item after assistant text belongs to the same assistant turn, and consecutive
// outputs answer one turn.
func (d *decoder) appendPart(role llm.Role, p llm.Part) {
	if n := len(d.r.Messages); n > 0 && d.r.Messages[n-1].Role == role {
		d.r.Messages[n-1].Content = append(d.r.Messages[n-1].Content, p)
		return
	}
	d.r.Messages = append(d.r.Messages, llm.Message{Role: role, Content: []llm.Part{p}})
}

func (d *decoder) item(field string, it *wireItem) error {
	typ := it.Type
	if typ == "" && it.Role != "" {
		typ = "message"
	}
	switch typ {
	case "message":
		return d.message(field, it)
	case "function_call", "custom_tool_call":
		return d.call(field, it)
	case "function_call_output", "custom_tool_call_output":
		if it.CallID == "" {
			return wire.Invalid(field+".call_id", "required")
		}
		name, ok := d.calls[it.CallID]
		if !ok {
			return wire.Invalid(field+".call_id", "%q answers no earlier call in input", it.CallID)
		}
		content, err := outputParts(field+".output", it.Output)
		if err != nil {
			return err
		}
		d.appendPart(llm.RoleTool, llm.Part{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: it.CallID, Name: name, Content: content}})
		return nil
	case "additional_tools":
		// Codex declares its tools in this item (with the models it knows) rather than in tools.
		return d.tools.add(field+".tools", it.Tools)
	case "reasoning":
		// Another provider cannot read OpenAI's reasoning (summaries or encrypted content): the
		// item is dropped, as Codex itself drops it for models without reasoning.
		return nil
	case "item_reference":
		return wire.Invalid(field+".type", "item_reference needs stored responses, which Polydev does not keep; send the item itself")
	case "":
		return wire.Invalid(field+".type", "required")
	}
	return wire.Invalid(field+".type", "%q items are not supported on this route", typ)
}

func (d *decoder) message(field string, it *wireItem) error {
	switch it.Role {
	case "system", "developer":
		text, err := textOnly(field+".content", it.Content)
		if err != nil {
			return err
		}
		if text != "" {
			d.system = append(d.system, text)
		}
		return nil
	case "user":
		parts, err := userParts(field+".content", it.Content)
		if err != nil {
			return err
		}
		for _, p := range parts {
			d.appendPart(llm.RoleUser, p)
		}
		return nil
	case "assistant":
		text, err := textOnly(field+".content", it.Content)
		if err != nil {
			return err
		}
		if text != "" {
			d.appendPart(llm.RoleAssistant, llm.TextPart(text))
		}
		return nil
	case "":
		return wire.Invalid(field+".role", "required")
	}
	return wire.Invalid(field+".role", "%q is not supported", it.Role)
}

func (d *decoder) call(field string, it *wireItem) error {
	if it.CallID == "" {
		return wire.Invalid(field+".call_id", "required")
	}
	if it.Name == "" {
		return wire.Invalid(field+".name", "required")
	}
	var args json.RawMessage
	if it.Type == "custom_tool_call" {
		if it.Input == nil {
			return wire.Invalid(field+".input", "required")
		}
		args, _ = json.Marshal(map[string]string{"input": *it.Input})
	} else {
		a := "{}"
		if it.Arguments != nil && strings.TrimSpace(*it.Arguments) != "" {
			a = *it.Arguments
		}
		if !json.Valid([]byte(a)) {
			return wire.Invalid(field+".arguments", "must be JSON text")
		}
		args = json.RawMessage(a)
	}
	name := d.tools.modelName(it.Namespace, it.Name)
	d.calls[it.CallID] = name
	d.appendPart(llm.RoleAssistant, llm.Part{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: it.CallID, Name: name, Arguments: args}})
	return nil
}

// contentParts reads content given as a string or an array of parts.
func contentParts(field string, raw json.RawMessage) ([]wirePart, error) {
	if !present(raw) {
		return nil, wire.Invalid(field, "required")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, wire.Invalid(field, "invalid string")
		}
		return []wirePart{{Type: "input_text", Text: s}}, nil
	}
	var parts []wirePart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, wire.Invalid(field, "must be a string or an array of content parts")
	}
	return parts, nil
}

// textOnly joins the text parts of system, developer and assistant content.
func textOnly(field string, raw json.RawMessage) (string, error) {
	parts, err := contentParts(field, raw)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for j, p := range parts {
		switch p.Type {
		case "input_text", "output_text", "text":
			b.WriteString(p.Text)
		case "refusal":
			b.WriteString(p.Refusal)
		default:
			return "", wire.Invalid(field+"["+itoa(j)+"].type", "%q is not allowed here; only text", p.Type)
		}
	}
	return b.String(), nil
}

func userParts(field string, raw json.RawMessage) ([]llm.Part, error) {
	parts, err := contentParts(field, raw)
	if err != nil {
		return nil, err
	}
	out := make([]llm.Part, 0, len(parts))
	for j, p := range parts {
		pf := field + "[" + itoa(j) + "]"
		switch p.Type {
		case "input_text", "text":
			out = append(out, llm.TextPart(p.Text))
		case "input_image":
			if p.FileID != "" {
				return nil, wire.Invalid(pf+".file_id", "uploaded files are not supported; send image_url")
			}
			img, err := parseImageURL(pf+".image_url", p.ImageURL)
			if err != nil {
				return nil, err
			}
			out = append(out, llm.Part{Kind: llm.PartImage, Image: img})
		case "input_file":
			return nil, wire.Invalid(pf+".type", "input_file is not supported on this route")
		case "":
			return nil, wire.Invalid(pf+".type", "required")
		default:
			return nil, wire.Invalid(pf+".type", "%q is not supported", p.Type)
		}
	}
	return out, nil
}

// outputParts reads a tool output: a string, or text and image parts.
func outputParts(field string, raw json.RawMessage) ([]llm.Part, error) {
	if !present(raw) {
		return nil, wire.Invalid(field, "required")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, wire.Invalid(field, "invalid string")
		}
		return []llm.Part{llm.TextPart(s)}, nil
	}
	return userParts(field, raw)
}

// parseImageURL accepts an http(s) URL or a base64 data URL of an image.
func parseImageURL(field, u string) (*llm.Image, error) {
	if u == "" {
		return nil, wire.Invalid(field, "required")
	}
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

func itoa(i int) string { return strconv.Itoa(i) }
