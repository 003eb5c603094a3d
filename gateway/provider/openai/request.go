package openai

import (
	"cmp"
	"encoding/json"

	"github.com/polydev/polydev/gateway/llm"
)

type wireRequest struct {
	Model               string         `json:"model"`
	Messages            []wireMessage  `json:"messages"`
	Tools               []wireTool     `json:"tools,omitempty"`
	ToolChoice          any            `json:"tool_choice,omitempty"`
	ParallelToolCalls   *bool          `json:"parallel_tool_calls,omitempty"`
	MaxTokens           int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64       `json:"temperature,omitempty"`
	TopP                *float64       `json:"top_p,omitempty"`
	Stop                []string       `json:"stop,omitempty"`
	Stream              bool           `json:"stream,omitempty"`
	StreamOptions       *streamOptions `json:"stream_options,omitempty"`
	User                string         `json:"user,omitempty"`
	ResponseFormat      any            `json:"response_format,omitempty"`
	ReasoningEffort     string         `json:"reasoning_effort,omitempty"`
	Seed                *int64         `json:"seed,omitempty"`
	FrequencyPenalty    *float64       `json:"frequency_penalty,omitempty"`
	PresencePenalty     *float64       `json:"presence_penalty,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type wireMessage struct {
	Role       string         `json:"role"`
	Content    any            `json:"content"` // string, []wirePart, or nil (assistant with tool calls)
	ToolCalls  []wireToolCall `json:"tool_calls,omitempty"`
	ToolCallID string         `json:"tool_call_id,omitempty"`
}

type wirePart struct {
	Type     string        `json:"type"`
	Text     string        `json:"text,omitempty"`
	ImageURL *wireImageURL `json:"image_url,omitempty"`
	File     *wireFile     `json:"file,omitempty"`
}

// wireFile is a file content part: the file inline as a data URL.
type wireFile struct {
	Filename string `json:"filename"`
	FileData string `json:"file_data"`
}

type wireImageURL struct {
	URL string `json:"url"`
}

type wireToolCall struct {
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function wireFunction `json:"function"`
}

type wireFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type wireTool struct {
	Type     string          `json:"type"`
	Function wireFunctionDef `json:"function"`
}

type wireFunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

func encodeRequest(r *llm.Request, stream bool, maxField string) ([]byte, error) {
	w := wireRequest{
		Model:       r.Model,
		Temperature: r.Temperature,
		TopP:        r.TopP,
		Stop:        r.Stop,
		User:        r.User,
		Messages:    make([]wireMessage, 0, len(r.Messages)+1),
	}
	encodeOptions(r, &w)
	if maxField == "max_completion_tokens" {
		w.MaxCompletionTokens = r.MaxTokens
	} else {
		w.MaxTokens = r.MaxTokens
	}
	if stream {
		w.Stream = true
		w.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if r.System != "" {
		w.Messages = append(w.Messages, wireMessage{Role: "system", Content: r.System})
	}
	for _, m := range r.Messages {
		switch m.Role {
		case llm.RoleUser:
			w.Messages = append(w.Messages, wireMessage{Role: "user", Content: userContent(m.Content)})
		case llm.RoleAssistant:
			w.Messages = append(w.Messages, assistantMessage(m.Content))
		case llm.RoleTool:
			for _, p := range m.Content {
				if p.Kind == llm.PartToolResult {
					// OpenAI has no error flag and no images in tool messages: the text goes alone.
					w.Messages = append(w.Messages, wireMessage{Role: "tool", ToolCallID: p.ToolResult.CallID, Content: p.ToolResult.Text()})
				}
			}
		}
	}
	if len(r.Tools) > 0 {
		w.Tools = make([]wireTool, len(r.Tools))
		for i, t := range r.Tools {
			params := t.Parameters
			if len(params) == 0 {
				params = emptySchema
			}
			w.Tools[i] = wireTool{Type: "function", Function: wireFunctionDef{Name: t.Name, Description: t.Description, Parameters: params}}
		}
		switch r.ToolChoice.Mode {
		case llm.ToolChoiceAuto, llm.ToolChoiceNone, llm.ToolChoiceRequired:
			w.ToolChoice = string(r.ToolChoice.Mode)
		case llm.ToolChoiceTool:
			w.ToolChoice = map[string]any{"type": "function", "function": map[string]string{"name": r.ToolChoice.Name}}
		}
		if r.ToolChoice.DisableParallel {
			f := false
			w.ParallelToolCalls = &f
		}
	}
	return json.Marshal(&w)
}

// userContent is a plain string when the message is only text (what every compatible server
// accepts), the parts array otherwise.
func userContent(parts []llm.Part) any {
	onlyText := true
	for _, p := range parts {
		if p.Kind != llm.PartText {
			onlyText = false
		}
	}
	if onlyText {
		return llm.JoinText(parts, "\n")
	}
	out := make([]wirePart, 0, len(parts))
	for _, p := range parts {
		switch p.Kind {
		case llm.PartText:
			out = append(out, wirePart{Type: "text", Text: p.Text})
		case llm.PartImage:
			out = append(out, wirePart{Type: "image_url", ImageURL: &wireImageURL{URL: imageURL(p.Image)}})
		case llm.PartDocument:
			d := p.Document
			out = append(out, wirePart{Type: "file", File: &wireFile{Filename: cmp.Or(d.Name, "document.pdf"), FileData: "data:" + d.MediaType + ";base64," + d.Data}})
		}
	}
	return out
}

func imageURL(img *llm.Image) string {
	if img.URL != "" {
		return img.URL
	}
	return "data:" + img.MediaType + ";base64," + img.Data
}

func assistantMessage(parts []llm.Part) wireMessage {
	m := wireMessage{Role: "assistant"}
	text := llm.JoinText(parts, "")
	for _, p := range parts {
		if p.Kind == llm.PartToolCall {
			args := string(p.ToolCall.Arguments)
			if args == "" {
				args = "{}"
			}
			m.ToolCalls = append(m.ToolCalls, wireToolCall{ID: p.ToolCall.ID, Type: "function", Function: wireFunction{Name: p.ToolCall.Name, Arguments: args}})
		}
	}
	if text != "" || len(m.ToolCalls) == 0 {
		m.Content = text
	}
	return m
}
