package anthropic

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/internal/jsonw"
	"github.com/polydev/polydev/gateway/llm"
)

type wireRequest struct {
	Model         string            `json:"model"`
	MaxTokens     int               `json:"max_tokens"`
	System        string            `json:"system,omitempty"`
	Messages      []wireMessage     `json:"messages"`
	Tools         []wireTool        `json:"tools,omitempty"`
	ToolChoice    *wireToolChoice   `json:"tool_choice,omitempty"`
	Temperature   *float64          `json:"temperature,omitempty"`
	TopP          *float64          `json:"top_p,omitempty"`
	StopSequences []string          `json:"stop_sequences,omitempty"`
	Stream        bool              `json:"stream,omitempty"`
	Metadata      *wireMetadata     `json:"metadata,omitempty"`
	Thinking      *wireThinking     `json:"thinking,omitempty"`
	OutputConfig  *wireOutputConfig `json:"output_config,omitempty"`
}

type wireMetadata struct {
	UserID string `json:"user_id"`
}

type wireMessage struct {
	Role    string      `json:"role"`
	Content []wireBlock `json:"content"`
}

// wireBlock is any content block; the fields its type uses are set.
type wireBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Source    *wireSource     `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   []wireBlock     `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
}

type wireSource struct {
	Type      string `json:"type"` // base64 or url
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type wireTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type wireToolChoice struct {
	Type                   string `json:"type"`
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

func encodeRequest(r *llm.Request, stream bool, defaultMax int) ([]byte, error) {
	if err := checkOptions(r); err != nil {
		return nil, err
	}
	w := wireRequest{
		Model:         r.Model,
		MaxTokens:     r.MaxTokens,
		System:        r.System,
		TopP:          r.TopP,
		StopSequences: r.Stop,
		Stream:        stream,
		Messages:      make([]wireMessage, 0, len(r.Messages)),
	}
	if w.MaxTokens <= 0 {
		w.MaxTokens = defaultMax
	}
	if r.Temperature != nil {
		// Anthropic accepts 0..1; OpenAI-shaped clients may send up to 2.
		t := min(max(*r.Temperature, 0), 1)
		w.Temperature = &t
	}
	if r.User != "" {
		w.Metadata = &wireMetadata{UserID: r.User}
	}
	for _, m := range r.Messages {
		role := "user"
		if m.Role == llm.RoleAssistant {
			role = "assistant"
		}
		blocks := make([]wireBlock, 0, len(m.Content))
		for _, p := range m.Content {
			if b, ok := block(p); ok {
				blocks = append(blocks, b)
			}
		}
		// Consecutive turns of one role (a tool turn followed by a user turn) become one turn, tool
		// results first, as the API wants them.
		if n := len(w.Messages); n > 0 && w.Messages[n-1].Role == role {
			w.Messages[n-1].Content = append(w.Messages[n-1].Content, blocks...)
			continue
		}
		w.Messages = append(w.Messages, wireMessage{Role: role, Content: blocks})
	}
	if len(r.Tools) > 0 {
		w.Tools = make([]wireTool, len(r.Tools))
		for i, t := range r.Tools {
			schema := t.Parameters
			if len(schema) == 0 {
				schema = emptySchema
			}
			w.Tools[i] = wireTool{Name: t.Name, Description: t.Description, InputSchema: schema}
		}
		tc := &wireToolChoice{DisableParallelToolUse: r.ToolChoice.DisableParallel}
		switch r.ToolChoice.Mode {
		case llm.ToolChoiceNone:
			tc.Type = "none"
		case llm.ToolChoiceRequired:
			tc.Type = "any"
		case llm.ToolChoiceTool:
			tc.Type, tc.Name = "tool", r.ToolChoice.Name
		default:
			tc.Type = "auto"
		}
		if tc.Type != "auto" || tc.DisableParallelToolUse {
			w.ToolChoice = tc
		}
	}
	if useJSONTool(r) {
		addJSONTool(r, &w)
	}
	encodeOptions(r, &w)
	return json.Marshal(&w)
}

// block renders one part; empty text is dropped (the API refuses empty text blocks).
func block(p llm.Part) (wireBlock, bool) {
	switch p.Kind {
	case llm.PartText:
		return wireBlock{Type: "text", Text: p.Text}, p.Text != ""
	case llm.PartImage:
		return wireBlock{Type: "image", Source: source(p.Image)}, true
	case llm.PartDocument:
		return wireBlock{Type: "document", Source: &wireSource{Type: "base64", MediaType: p.Document.MediaType, Data: p.Document.Data}}, true
	case llm.PartToolCall:
		input := json.RawMessage(p.ToolCall.Arguments)
		if !jsonw.IsObject(input) {
			input = json.RawMessage("{}")
		}
		return wireBlock{Type: "tool_use", ID: p.ToolCall.ID, Name: p.ToolCall.Name, Input: input}, true
	case llm.PartToolResult:
		res := p.ToolResult
		b := wireBlock{Type: "tool_result", ToolUseID: res.CallID, IsError: res.IsError}
		for _, c := range res.Content {
			if cb, ok := block(c); ok && (c.Kind == llm.PartText || c.Kind == llm.PartImage) {
				b.Content = append(b.Content, cb)
			}
		}
		return b, true
	}
	return wireBlock{}, false
}

func source(img *llm.Image) *wireSource {
	if img.URL != "" {
		return &wireSource{Type: "url", URL: img.URL}
	}
	return &wireSource{Type: "base64", MediaType: img.MediaType, Data: img.Data}
}
