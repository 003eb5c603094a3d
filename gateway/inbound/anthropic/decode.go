// Package anthropic is the inbound codec for the Anthropic Messages shape (POST /v1/messages, so
// that tools like Claude Code can use the gateway as their base URL): it parses a client's request
// body into an llm.Request and renders an llm.Response as a message object, an llm.Stream as the
// full Anthropic event sequence (message_start, content_block_start/delta/stop, message_delta,
// message_stop), and errors as {"type":"error","error":{...}} — or as an `event: error` once a
// stream has started. It does no routing, authentication or I/O beyond writing to the
// http.ResponseWriter it is given.
//
// Decoding is strict about what it knows (max_tokens is required, as the Messages API requires it;
// every known field must have its documented type) and ignores unknown fields. The shape has no
// field for an upstream URL or key: a body carrying them is parsed as if they were absent.
// Requests decoded here cross providers (an Anthropic model's requests are forwarded as written,
// see gateway/passthrough), so what only Anthropic has is mapped or refused by name: the thinking
// parameter and output_config map onto the canonical reasoning and structured output (options.go),
// thinking blocks in the history are dropped (other providers neither take nor return Anthropic's
// signed thinking), cache_control marks are ignored, mid-conversation
// system messages join the system prompt, PDF documents become document parts and text documents
// text, server tools (web_search, ...) and URL or Files-API documents are refused.
package anthropic

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

type wireRequest struct {
	Model         string          `json:"model"`
	MaxTokens     *int            `json:"max_tokens"`
	System        json.RawMessage `json:"system"`
	Messages      []wireMessage   `json:"messages"`
	Tools         []wireTool      `json:"tools"`
	ToolChoice    *wireToolChoice `json:"tool_choice"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        bool            `json:"stream"`
	Metadata      *struct {
		UserID string `json:"user_id"`
	} `json:"metadata"`
	Thinking     *wireThinking     `json:"thinking"`
	OutputConfig *wireOutputConfig `json:"output_config"`
	OutputFormat *wireOutputFormat `json:"output_format"` // the structured-outputs beta's name for output_config.format
}

type wireMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type wireBlock struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Title  string `json:"title"`
	Source *struct {
		Type      string          `json:"type"`
		MediaType string          `json:"media_type"`
		Data      string          `json:"data"`
		URL       string          `json:"url"`
		Content   json.RawMessage `json:"content"`
	} `json:"source"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

type wireTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type wireToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
}

const maxModelLen = 256

// DecodeRequest parses a Messages request body.
func DecodeRequest(body []byte) (*llm.Request, error) {
	return decodeRequest(body, false)
}

// DecodeCountTokens parses a count_tokens request body: a Messages body without max_tokens.
func DecodeCountTokens(body []byte) (*llm.Request, error) {
	return decodeRequest(body, true)
}

func decodeRequest(body []byte, count bool) (*llm.Request, error) {
	var w wireRequest
	if err := wire.Decode(body, &w); err != nil {
		return nil, err
	}
	if count && w.MaxTokens == nil {
		one := 1
		w.MaxTokens = &one // not part of a count request; nothing is generated
	}
	r := &llm.Request{Model: w.Model, Temperature: w.Temperature, TopP: w.TopP, Stop: w.StopSequences, Stream: w.Stream}
	switch {
	case w.Model == "":
		return nil, polydev.Errorf(polydev.EINVALID, "model: Field required")
	case len(w.Model) > maxModelLen:
		return nil, wire.Invalid("model", "longer than %d characters", maxModelLen)
	case w.MaxTokens == nil:
		return nil, polydev.Errorf(polydev.EINVALID, "max_tokens: Field required")
	case *w.MaxTokens < 1:
		return nil, wire.Invalid("max_tokens", "must be at least 1")
	case len(w.Messages) == 0:
		return nil, polydev.Errorf(polydev.EINVALID, "messages: at least one message is required")
	case w.Temperature != nil && (*w.Temperature < 0 || *w.Temperature > 1):
		return nil, wire.Invalid("temperature", "must be between 0 and 1")
	case w.TopP != nil && (*w.TopP < 0 || *w.TopP > 1):
		return nil, wire.Invalid("top_p", "must be between 0 and 1")
	}
	r.MaxTokens = *w.MaxTokens
	if w.Metadata != nil {
		r.User = w.Metadata.UserID
	}
	system, err := decodeSystem("system", w.System)
	if err != nil {
		return nil, err
	}
	r.System = system
	if err := decodeOptions(&w, r); err != nil {
		return nil, err
	}
	if err := decodeTools(&w, r); err != nil {
		return nil, err
	}
	if err := decodeMessages(w.Messages, r); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeSystem accepts a string or an array of text blocks (cache_control is ignored).
func decodeSystem(field string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", wire.Invalid(field, "invalid string")
		}
		return s, nil
	}
	var blocks []wireBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", wire.Invalid(field, "must be a string or an array of text blocks")
	}
	texts := make([]string, 0, len(blocks))
	for i, b := range blocks {
		if b.Type != "text" {
			return "", wire.Invalid(field+"["+strconv.Itoa(i)+"].type", "must be \"text\"")
		}
		texts = append(texts, b.Text)
	}
	return strings.Join(texts, "\n\n"), nil
}

func decodeTools(w *wireRequest, r *llm.Request) error {
	names := map[string]bool{}
	for i, t := range w.Tools {
		field := "tools[" + strconv.Itoa(i) + "]"
		if t.Type != "" && t.Type != "custom" {
			return wire.Invalid(field+".type", "server tool %q runs only on anthropic/ models", t.Type)
		}
		if !wire.ValidToolName(t.Name) {
			return wire.Invalid(field+".name", "must be 1 to 64 letters, digits, underscores or dashes")
		}
		if names[t.Name] {
			return wire.Invalid(field+".name", "%q is declared twice", t.Name)
		}
		names[t.Name] = true
		if !wire.IsObject(t.InputSchema) {
			return wire.Invalid(field+".input_schema", "required: a JSON Schema object")
		}
		r.Tools = append(r.Tools, llm.Tool{Name: t.Name, Description: t.Description, Parameters: t.InputSchema})
	}
	tc := w.ToolChoice
	if tc == nil {
		return nil
	}
	r.ToolChoice.DisableParallel = tc.DisableParallelToolUse
	switch tc.Type {
	case "auto":
		r.ToolChoice.Mode = llm.ToolChoiceAuto
	case "any":
		r.ToolChoice.Mode = llm.ToolChoiceRequired
	case "none":
		r.ToolChoice.Mode = llm.ToolChoiceNone
	case "tool":
		if !names[tc.Name] {
			return wire.Invalid("tool_choice.name", "%q is not among tools", tc.Name)
		}
		r.ToolChoice.Mode, r.ToolChoice.Name = llm.ToolChoiceTool, tc.Name
	default:
		return wire.Invalid("tool_choice.type", "must be auto, any, tool or none")
	}
	if r.ToolChoice.Mode == llm.ToolChoiceRequired && len(r.Tools) == 0 {
		return wire.Invalid("tool_choice", "\"any\" needs tools")
	}
	return nil
}

func decodeMessages(msgs []wireMessage, r *llm.Request) error {
	calls := map[string]bool{}
	r.Messages = make([]llm.Message, 0, len(msgs)+1)
	for i, m := range msgs {
		field := "messages[" + strconv.Itoa(i) + "]"
		if m.Role == "system" {
			// A mid-conversation system message (Claude Code sends them): its text joins the
			// system prompt, as OpenAI-shaped system messages do. Its position is not kept:
			// Gemini has no such turn, and a system text is an instruction wherever it stands.
			text, err := decodeSystem(field+".content", m.Content)
			if err != nil {
				return err
			}
			if text != "" && r.System != "" {
				r.System += "\n\n"
			}
			r.System += text
			continue
		}
		blocks, err := decodeBlocks(field+".content", m.Content)
		if err != nil {
			return err
		}
		switch m.Role {
		case "user":
			results, rest, err := userParts(field, blocks, calls)
			if err != nil {
				return err
			}
			// Tool results become a tool turn before the rest of the user turn.
			if len(results) > 0 {
				r.Messages = append(r.Messages, llm.Message{Role: llm.RoleTool, Content: results})
			}
			if len(rest) > 0 || len(results) == 0 {
				r.Messages = append(r.Messages, llm.Message{Role: llm.RoleUser, Content: rest})
			}
		case "assistant":
			parts, err := assistantParts(field, blocks, calls)
			if err != nil {
				return err
			}
			r.Messages = append(r.Messages, llm.Message{Role: llm.RoleAssistant, Content: parts})
		case "":
			return wire.Invalid(field+".role", "Field required")
		default:
			return wire.Invalid(field+".role", "must be user, assistant or system, not %q", m.Role)
		}
	}
	return nil
}

// decodeBlocks reads content: a string (one text block) or an array of blocks.
func decodeBlocks(field string, raw json.RawMessage) ([]wireBlock, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, wire.Invalid(field, "Field required")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, wire.Invalid(field, "invalid string")
		}
		return []wireBlock{{Type: "text", Text: s}}, nil
	}
	var blocks []wireBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, wire.Invalid(field, "must be a string or an array of content blocks")
	}
	return blocks, nil
}

func userParts(field string, blocks []wireBlock, calls map[string]bool) (results, rest []llm.Part, err error) {
	for j, b := range blocks {
		bf := field + ".content[" + strconv.Itoa(j) + "]"
		switch b.Type {
		case "text":
			rest = append(rest, llm.TextPart(b.Text))
		case "image":
			img, err := image(bf, &b)
			if err != nil {
				return nil, nil, err
			}
			rest = append(rest, llm.Part{Kind: llm.PartImage, Image: img})
		case "document":
			parts, err := document(bf, &b)
			if err != nil {
				return nil, nil, err
			}
			rest = append(rest, parts...)
		case "tool_result":
			if b.ToolUseID == "" {
				return nil, nil, wire.Invalid(bf+".tool_use_id", "Field required")
			}
			if !calls[b.ToolUseID] {
				return nil, nil, wire.Invalid(bf+".tool_use_id", "%q answers no earlier tool_use", b.ToolUseID)
			}
			content, docs, err := resultContent(bf+".content", b.Content)
			if err != nil {
				return nil, nil, err
			}
			rest = append(rest, docs...)
			results = append(results, llm.Part{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: b.ToolUseID, Content: content, IsError: b.IsError}})
		default:
			return nil, nil, wire.Invalid(bf+".type", "%q is not supported", b.Type)
		}
	}
	return results, rest, nil
}

// resultContent reads a tool_result's content: absent, a string, or text, image and document
// blocks. Text documents become text of the result; PDF documents are returned apart (docs), to
// follow the results in the user's turn: no provider but Anthropic takes a file in a tool result.
func resultContent(field string, raw json.RawMessage) (out, docs []llm.Part, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	blocks, err := decodeBlocks(field, raw)
	if err != nil {
		return nil, nil, err
	}
	out = make([]llm.Part, 0, len(blocks))
	for j, b := range blocks {
		bf := field + "[" + strconv.Itoa(j) + "]"
		switch b.Type {
		case "text":
			out = append(out, llm.TextPart(b.Text))
		case "image":
			img, err := image(bf, &b)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, llm.Part{Kind: llm.PartImage, Image: img})
		case "document":
			parts, err := document(bf, &b)
			if err != nil {
				return nil, nil, err
			}
			for _, p := range parts {
				if p.Kind == llm.PartDocument {
					docs = append(docs, p)
				} else {
					out = append(out, p)
				}
			}
		default:
			return nil, nil, wire.Invalid(bf+".type", "%q is not supported in tool results", b.Type)
		}
	}
	return out, docs, nil
}

// document reads a document block for a provider other than Anthropic: a base64 PDF becomes a
// document part (OpenAI file part, Gemini inlineData); a plain-text document, or one given as
// content blocks, becomes text (with its title first). Documents by URL or Files-API id, and
// citations, exist only on Anthropic.
func document(field string, b *wireBlock) ([]llm.Part, error) {
	src := b.Source
	if src == nil {
		return nil, wire.Invalid(field+".source", "Field required")
	}
	var title []llm.Part
	if b.Title != "" {
		title = []llm.Part{llm.TextPart(b.Title)}
	}
	switch src.Type {
	case "base64":
		if src.MediaType != "application/pdf" || src.Data == "" {
			return nil, wire.Invalid(field+".source", "base64 documents need media_type application/pdf and data")
		}
		return append(title, llm.Part{Kind: llm.PartDocument, Document: &llm.Document{MediaType: src.MediaType, Data: src.Data}}), nil
	case "text":
		return append(title, llm.TextPart(src.Data)), nil
	case "content":
		blocks, err := decodeBlocks(field+".source.content", src.Content)
		if err != nil {
			return nil, err
		}
		for j, cb := range blocks {
			switch cb.Type {
			case "text":
				title = append(title, llm.TextPart(cb.Text))
			case "image":
				img, err := image(field+".source.content["+strconv.Itoa(j)+"]", &cb)
				if err != nil {
					return nil, err
				}
				title = append(title, llm.Part{Kind: llm.PartImage, Image: img})
			default:
				return nil, wire.Invalid(field+".source.content["+strconv.Itoa(j)+"].type", "%q is not supported in documents", cb.Type)
			}
		}
		return title, nil
	case "url", "file":
		return nil, wire.Invalid(field+".source.type", "%q documents are only supported on anthropic/ models; send the PDF as base64", src.Type)
	}
	return nil, wire.Invalid(field+".source.type", "must be base64, text or content")
}

func image(field string, b *wireBlock) (*llm.Image, error) {
	src := b.Source
	if src == nil {
		return nil, wire.Invalid(field+".source", "Field required")
	}
	switch src.Type {
	case "base64":
		if !strings.HasPrefix(src.MediaType, "image/") || src.Data == "" {
			return nil, wire.Invalid(field+".source", "base64 images need media_type image/... and data")
		}
		return &llm.Image{MediaType: src.MediaType, Data: src.Data}, nil
	case "url":
		if !strings.HasPrefix(src.URL, "https://") && !strings.HasPrefix(src.URL, "http://") {
			return nil, wire.Invalid(field+".source.url", "must be an http(s) URL")
		}
		return &llm.Image{URL: src.URL}, nil
	}
	return nil, wire.Invalid(field+".source.type", "must be base64 or url")
}

func assistantParts(field string, blocks []wireBlock, calls map[string]bool) ([]llm.Part, error) {
	parts := make([]llm.Part, 0, len(blocks))
	for j, b := range blocks {
		bf := field + ".content[" + strconv.Itoa(j) + "]"
		switch b.Type {
		case "text":
			parts = append(parts, llm.TextPart(b.Text))
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return nil, wire.Invalid(bf, "tool_use needs id and name")
			}
			input := b.Input
			if len(input) == 0 || string(input) == "null" {
				input = json.RawMessage("{}")
			}
			if !wire.IsObject(input) {
				return nil, wire.Invalid(bf+".input", "must be an object")
			}
			calls[b.ID] = true
			parts = append(parts, llm.Part{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: b.ID, Name: b.Name, Arguments: input}})
		case "thinking", "redacted_thinking":
			// Not supported yet: dropped (see the package doc).
		default:
			return nil, wire.Invalid(bf+".type", "%q is not supported", b.Type)
		}
	}
	return parts, nil
}
