package gemini

import (
	"encoding/json"
	"path"
	"reflect"
	"strings"

	"github.com/polydev/polydev/gateway/internal/jsonw"
	"github.com/polydev/polydev/gateway/llm"
)

type wireRequest struct {
	SystemInstruction *wireContent    `json:"systemInstruction,omitempty"`
	Contents          []wireContent   `json:"contents"`
	Tools             []wireTools     `json:"tools,omitempty"`
	ToolConfig        *wireToolConfig `json:"toolConfig,omitempty"`
	GenerationConfig  *wireGenConfig  `json:"generationConfig,omitempty"`
}

type wireContent struct {
	Role  string     `json:"role,omitempty"`
	Parts []wirePart `json:"parts"`
}

type wirePart struct {
	Text             string                `json:"text,omitempty"`
	Thought          bool                  `json:"thought,omitempty"`
	InlineData       *wireBlob             `json:"inlineData,omitempty"`
	FileData         *wireFile             `json:"fileData,omitempty"`
	FunctionCall     *wireFunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *wireFunctionResponse `json:"functionResponse,omitempty"`
}

type wireBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type wireFile struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type wireFunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type wireFunctionResponse struct {
	Name     string         `json:"name"`
	Response map[string]any `json:"response"`
}

type wireTools struct {
	FunctionDeclarations []wireFunctionDecl `json:"functionDeclarations"`
}

type wireFunctionDecl struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

type wireToolConfig struct {
	FunctionCallingConfig wireFunctionCallingConfig `json:"functionCallingConfig"`
}

type wireFunctionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type wireGenConfig struct {
	MaxOutputTokens    int                 `json:"maxOutputTokens,omitempty"`
	Temperature        *float64            `json:"temperature,omitempty"`
	TopP               *float64            `json:"topP,omitempty"`
	StopSequences      []string            `json:"stopSequences,omitempty"`
	ResponseMimeType   string              `json:"responseMimeType,omitempty"`
	ResponseJSONSchema json.RawMessage     `json:"responseJsonSchema,omitempty"`
	Seed               *int64              `json:"seed,omitempty"`
	PresencePenalty    *float64            `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64            `json:"frequencyPenalty,omitempty"`
	ThinkingConfig     *wireThinkingConfig `json:"thinkingConfig,omitempty"`
}

func encodeRequest(r *llm.Request) ([]byte, error) {
	w := wireRequest{Contents: make([]wireContent, 0, len(r.Messages))}
	if r.System != "" {
		w.SystemInstruction = &wireContent{Parts: []wirePart{{Text: r.System}}}
	}
	for i, m := range r.Messages {
		role := "user"
		if m.Role == llm.RoleAssistant {
			role = "model"
		}
		parts := make([]wirePart, 0, len(m.Content))
		for _, p := range m.Content {
			part, ok, err := encodePart(r.Messages, i, p)
			if err != nil {
				return nil, err
			}
			if ok {
				parts = append(parts, part)
			}
		}
		if len(parts) == 0 {
			continue // Gemini refuses contents without parts
		}
		if n := len(w.Contents); n > 0 && w.Contents[n-1].Role == role {
			w.Contents[n-1].Parts = append(w.Contents[n-1].Parts, parts...)
			continue
		}
		w.Contents = append(w.Contents, wireContent{Role: role, Parts: parts})
	}
	if len(r.Tools) > 0 {
		decls := make([]wireFunctionDecl, len(r.Tools))
		for i, t := range r.Tools {
			decls[i] = wireFunctionDecl{Name: t.Name, Description: t.Description, ParametersJSONSchema: t.Parameters}
		}
		w.Tools = []wireTools{{FunctionDeclarations: decls}}
		switch r.ToolChoice.Mode {
		case llm.ToolChoiceNone:
			w.ToolConfig = &wireToolConfig{FunctionCallingConfig: wireFunctionCallingConfig{Mode: "NONE"}}
		case llm.ToolChoiceRequired:
			w.ToolConfig = &wireToolConfig{FunctionCallingConfig: wireFunctionCallingConfig{Mode: "ANY"}}
		case llm.ToolChoiceTool:
			w.ToolConfig = &wireToolConfig{FunctionCallingConfig: wireFunctionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{r.ToolChoice.Name}}}
		}
	}
	gc := wireGenConfig{MaxOutputTokens: r.MaxTokens, Temperature: r.Temperature, TopP: r.TopP, StopSequences: r.Stop}
	if err := encodeOptions(r, &gc); err != nil {
		return nil, err
	}
	if !reflect.ValueOf(gc).IsZero() {
		w.GenerationConfig = &gc
	}
	return json.Marshal(&w)
}

func encodePart(msgs []llm.Message, i int, p llm.Part) (wirePart, bool, error) {
	switch p.Kind {
	case llm.PartText:
		return wirePart{Text: p.Text}, p.Text != "", nil
	case llm.PartImage:
		if p.Image.URL != "" {
			return wirePart{FileData: &wireFile{MimeType: mediaType(p.Image), FileURI: p.Image.URL}}, true, nil
		}
		return wirePart{InlineData: &wireBlob{MimeType: p.Image.MediaType, Data: p.Image.Data}}, true, nil
	case llm.PartDocument:
		return wirePart{InlineData: &wireBlob{MimeType: p.Document.MediaType, Data: p.Document.Data}}, true, nil
	case llm.PartToolCall:
		args := json.RawMessage(p.ToolCall.Arguments)
		if !jsonw.IsObject(args) {
			args = json.RawMessage("{}")
		}
		return wirePart{FunctionCall: &wireFunctionCall{Name: p.ToolCall.Name, Args: args}}, true, nil
	case llm.PartToolResult:
		res := p.ToolResult
		name := res.Name
		if name == "" {
			name = llm.ToolName(msgs, i, res.CallID)
		}
		if name == "" {
			return wirePart{}, false, llm.Errorf(Name, llm.ErrInvalidRequest, "tool result %q answers no earlier tool call", res.CallID)
		}
		key := "output"
		if res.IsError {
			key = "error"
		}
		return wirePart{FunctionResponse: &wireFunctionResponse{Name: name, Response: map[string]any{key: res.Text()}}}, true, nil
	}
	return wirePart{}, false, nil
}

// mediaType is the image's type, or one guessed from the URL's extension (Gemini wants one).
func mediaType(img *llm.Image) string {
	if img.MediaType != "" {
		return img.MediaType
	}
	u := img.URL
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	switch strings.ToLower(path.Ext(u)) {
	case ".png":
		return "image/png"
	case ".webp":
		return "image/webp"
	case ".gif":
		return "image/gif"
	case ".heic":
		return "image/heic"
	}
	return "image/jpeg"
}
