package gemini

import (
	"bytes"
	"encoding/json"
	"strings"
)

// The request shapes of generateContent and countTokens, as far as the decoder reads them. Google's
// JSON parser (proto3 JSON) accepts every field under its lowerCamel name and under its snake_case
// proto name ("systemInstruction" and "system_instruction"; Google's own curl examples use both), so
// each object is decoded through camel, which renames snake_case keys of that object only: values
// held as json.RawMessage (function arguments, responses, schemas) are never touched.

type wireRequest struct {
	Model             string          `json:"model"` // countTokens' generateContentRequest carries it
	Contents          []wireContent   `json:"contents"`
	SystemInstruction *wireContent    `json:"systemInstruction"`
	Tools             []wireTool      `json:"tools"`
	ToolConfig        *wireToolConfig `json:"toolConfig"`
	GenerationConfig  *wireGenConfig  `json:"generationConfig"`
	CachedContent     string          `json:"cachedContent"`
	// SafetySettings are Gemini's own content filters; other providers apply theirs.
	SafetySettings json.RawMessage `json:"safetySettings"`
}

func (v *wireRequest) UnmarshalJSON(b []byte) error {
	type plain wireRequest
	return camel(b, (*plain)(v))
}

type wireContent struct {
	Role  string     `json:"role"`
	Parts []wirePart `json:"parts"`
}

func (v *wireContent) UnmarshalJSON(b []byte) error {
	type plain wireContent
	return camel(b, (*plain)(v))
}

// wirePart is one Part. Exactly one data field is meant to be set; thought and thoughtSignature
// annotate it.
type wirePart struct {
	Text                *string               `json:"text"`
	InlineData          *wireBlob             `json:"inlineData"`
	FileData            *wireFileData         `json:"fileData"`
	FunctionCall        *wireFunctionCall     `json:"functionCall"`
	FunctionResponse    *wireFunctionResponse `json:"functionResponse"`
	ExecutableCode      json.RawMessage       `json:"executableCode"`
	CodeExecutionResult json.RawMessage       `json:"codeExecutionResult"`
	VideoMetadata       json.RawMessage       `json:"videoMetadata"`
	Thought             bool                  `json:"thought"`
	ThoughtSignature    string                `json:"thoughtSignature"`
}

func (v *wirePart) UnmarshalJSON(b []byte) error {
	type plain wirePart
	return camel(b, (*plain)(v))
}

type wireBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

func (v *wireBlob) UnmarshalJSON(b []byte) error {
	type plain wireBlob
	return camel(b, (*plain)(v))
}

type wireFileData struct {
	MimeType string `json:"mimeType"`
	FileURI  string `json:"fileUri"`
}

func (v *wireFileData) UnmarshalJSON(b []byte) error {
	type plain wireFileData
	return camel(b, (*plain)(v))
}

type wireFunctionCall struct {
	ID   string          `json:"id"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args"`
}

func (v *wireFunctionCall) UnmarshalJSON(b []byte) error {
	type plain wireFunctionCall
	return camel(b, (*plain)(v))
}

type wireFunctionResponse struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
	// Parts are multimodal results (images a tool produced) beside the JSON response.
	Parts []wireFunctionResponsePart `json:"parts"`
}

func (v *wireFunctionResponse) UnmarshalJSON(b []byte) error {
	type plain wireFunctionResponse
	return camel(b, (*plain)(v))
}

type wireFunctionResponsePart struct {
	InlineData *wireBlob     `json:"inlineData"`
	FileData   *wireFileData `json:"fileData"`
}

func (v *wireFunctionResponsePart) UnmarshalJSON(b []byte) error {
	type plain wireFunctionResponsePart
	return camel(b, (*plain)(v))
}

// wireTool is one Tool: function declarations, or one of Gemini's server-side tools (held raw, so
// that their presence can be named in an error).
type wireTool struct {
	FunctionDeclarations  []wireFunctionDecl `json:"functionDeclarations"`
	GoogleSearch          json.RawMessage    `json:"googleSearch"`
	GoogleSearchRetrieval json.RawMessage    `json:"googleSearchRetrieval"`
	CodeExecution         json.RawMessage    `json:"codeExecution"`
	URLContext            json.RawMessage    `json:"urlContext"`
	ComputerUse           json.RawMessage    `json:"computerUse"`
	FileSearch            json.RawMessage    `json:"fileSearch"`
	GoogleMaps            json.RawMessage    `json:"googleMaps"`
	Retrieval             json.RawMessage    `json:"retrieval"`
	EnterpriseWebSearch   json.RawMessage    `json:"enterpriseWebSearch"`
}

func (v *wireTool) UnmarshalJSON(b []byte) error {
	type plain wireTool
	return camel(b, (*plain)(v))
}

type wireFunctionDecl struct {
	Name                 string          `json:"name"`
	Description          string          `json:"description"`
	Parameters           json.RawMessage `json:"parameters"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema"`
	// Response / ResponseJSONSchema describe what the function returns: advice to Gemini that no
	// other provider takes; they are not forwarded.
	Response           json.RawMessage `json:"response"`
	ResponseJSONSchema json.RawMessage `json:"responseJsonSchema"`
	Behavior           string          `json:"behavior"`
}

func (v *wireFunctionDecl) UnmarshalJSON(b []byte) error {
	type plain wireFunctionDecl
	return camel(b, (*plain)(v))
}

type wireToolConfig struct {
	FunctionCallingConfig *wireFunctionCallingConfig `json:"functionCallingConfig"`
}

func (v *wireToolConfig) UnmarshalJSON(b []byte) error {
	type plain wireToolConfig
	return camel(b, (*plain)(v))
}

type wireFunctionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames"`
}

func (v *wireFunctionCallingConfig) UnmarshalJSON(b []byte) error {
	type plain wireFunctionCallingConfig
	return camel(b, (*plain)(v))
}

type wireGenConfig struct {
	MaxOutputTokens    *int                `json:"maxOutputTokens"`
	Temperature        *float64            `json:"temperature"`
	TopP               *float64            `json:"topP"`
	TopK               *float64            `json:"topK"` // a number in the API (older models took fractions)
	StopSequences      []string            `json:"stopSequences"`
	CandidateCount     *int                `json:"candidateCount"`
	ResponseMimeType   string              `json:"responseMimeType"`
	ResponseSchema     json.RawMessage     `json:"responseSchema"`
	ResponseJSONSchema json.RawMessage     `json:"responseJsonSchema"`
	ResponseModalities []string            `json:"responseModalities"`
	ThinkingConfig     *wireThinkingConfig `json:"thinkingConfig"`
	Seed               *int64              `json:"seed"`
	PresencePenalty    *float64            `json:"presencePenalty"`
	FrequencyPenalty   *float64            `json:"frequencyPenalty"`
	ResponseLogprobs   bool                `json:"responseLogprobs"`
	Logprobs           *int                `json:"logprobs"`
	SpeechConfig       json.RawMessage     `json:"speechConfig"`
	ImageConfig        json.RawMessage     `json:"imageConfig"`
}

func (v *wireGenConfig) UnmarshalJSON(b []byte) error {
	type plain wireGenConfig
	if err := camel(b, (*plain)(v)); err != nil {
		return err
	}
	// "_responseJsonSchema" is what @google/genai sent before the field had its public name.
	if len(v.ResponseJSONSchema) == 0 {
		var old struct {
			S json.RawMessage `json:"_responseJsonSchema"`
		}
		if json.Unmarshal(b, &old) == nil {
			v.ResponseJSONSchema = old.S
		}
	}
	return nil
}

type wireThinkingConfig struct {
	IncludeThoughts bool   `json:"includeThoughts"`
	ThinkingBudget  *int   `json:"thinkingBudget"`
	ThinkingLevel   string `json:"thinkingLevel"`
}

func (v *wireThinkingConfig) UnmarshalJSON(b []byte) error {
	type plain wireThinkingConfig
	return camel(b, (*plain)(v))
}

// wireCountTokens is a countTokens request: contents alone, or a whole generateContentRequest.
type wireCountTokens struct {
	Contents               []wireContent `json:"contents"`
	GenerateContentRequest *wireRequest  `json:"generateContentRequest"`
}

func (v *wireCountTokens) UnmarshalJSON(b []byte) error {
	type plain wireCountTokens
	return camel(b, (*plain)(v))
}

// camel decodes the JSON object b into v, after renaming its own snake_case keys to lowerCamel.
// Objects without an underscore in any key are decoded as they are.
func camel(b []byte, v any) error {
	if bytes.IndexByte(b, '_') < 0 {
		return json.Unmarshal(b, v)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		return json.Unmarshal(b, v) // not an object: let the decoder name the type error
	}
	renamed := false
	for k, val := range fields {
		if strings.IndexByte(k, '_') <= 0 { // "_responseJsonSchema" keeps its leading underscore
			continue
		}
		c := lowerCamel(k)
		if _, taken := fields[c]; !taken {
			fields[c] = val
		}
		delete(fields, k)
		renamed = true
	}
	if !renamed {
		return json.Unmarshal(b, v)
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

// lowerCamel turns "system_instruction" into "systemInstruction".
func lowerCamel(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	up := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			up = true
		case up && 'a' <= c && c <= 'z':
			b.WriteByte(c - 'a' + 'A')
			up = false
		default:
			b.WriteByte(c)
			up = false
		}
	}
	return b.String()
}
