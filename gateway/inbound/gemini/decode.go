// Package gemini is the inbound codec for the Gemini API's own shape (POST
// /v1beta/models/{model}:generateContent, :streamGenerateContent and :countTokens, which Gemini
// CLI and @google/genai speak): it parses a GenerateContentRequest into an llm.Request, so that a
// Gemini client can use any provider's model, and renders an llm.Response as a
// GenerateContentResponse, an llm.Stream as a stream of them (SSE `data:` events with alt=sse, one
// JSON array without), and errors as Google's {"error":{"code","message","status"}}. It does no
// routing, authentication or I/O beyond writing to the http.ResponseWriter it is given; the model
// and whether to stream come from the URL, which the caller reads.
//
// A request for a Gemini model goes to Gemini as the client wrote it (the passthrough path), so
// this codec is the translation for crossing providers: what maps is translated, and what has no
// counterpart elsewhere (Gemini's server tools, context caches, audio and video, code execution,
// several candidates, audio output) is refused with a 400 naming the field. What only steers
// Gemini itself is dropped: thought summaries and thoughtSignatures in the history, safetySettings,
// topK, and the advisory parts of a function declaration (response schemas, behavior).
// Unknown fields are ignored; the shape has no field for an upstream URL or key.
package gemini

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// DecodeRequest parses a generateContent request body. The caller sets Model and Stream from the
// URL.
func DecodeRequest(body []byte) (*llm.Request, error) {
	var w wireRequest
	if err := wire.Decode(body, &w); err != nil {
		return nil, err
	}
	return decode(&w, "")
}

// DecodeCountTokens parses a countTokens request body: {"contents":[...]} or
// {"generateContentRequest":{...}}, the latter winning as in Google's API.
func DecodeCountTokens(body []byte) (*llm.Request, error) {
	var w wireCountTokens
	if err := wire.Decode(body, &w); err != nil {
		return nil, err
	}
	if w.GenerateContentRequest != nil {
		return decode(w.GenerateContentRequest, "generateContentRequest.")
	}
	return decode(&wireRequest{Contents: w.Contents}, "")
}

// crossOnly is the refusal of what only Gemini itself can do.
func crossOnly(field, what string) error {
	return wire.Invalid(field, "%s cannot be translated for a model of another provider; use a Gemini model", what)
}

func decode(w *wireRequest, prefix string) (*llm.Request, error) {
	if len(w.Contents) == 0 {
		return nil, polydev.Errorf(polydev.EINVALID, "%scontents: is required (at least one Content)", prefix)
	}
	if w.CachedContent != "" {
		return nil, crossOnly(prefix+"cachedContent", "a Gemini context cache")
	}
	r := &llm.Request{}
	if w.SystemInstruction != nil {
		s, err := systemText(prefix+"systemInstruction", w.SystemInstruction)
		if err != nil {
			return nil, err
		}
		r.System = s
	}
	if err := decodeTools(prefix, w, r); err != nil {
		return nil, err
	}
	if err := decodeGenConfig(prefix+"generationConfig", w.GenerationConfig, r); err != nil {
		return nil, err
	}
	if err := decodeContents(prefix, w.Contents, r); err != nil {
		return nil, err
	}
	return r, nil
}

// systemText joins the text parts of systemInstruction; it may hold nothing else.
func systemText(field string, c *wireContent) (string, error) {
	texts := make([]string, 0, len(c.Parts))
	for j, p := range c.Parts {
		if p.Thought {
			continue
		}
		if p.Text == nil || dataFields(&p) != 1 {
			return "", wire.Invalid(field+".parts["+strconv.Itoa(j)+"]", "must be a text part")
		}
		texts = append(texts, *p.Text)
	}
	return strings.Join(texts, "\n"), nil
}

// dataFields counts the members of Part's data oneof that are set.
func dataFields(p *wirePart) int {
	n := 0
	for _, set := range []bool{
		p.Text != nil, p.InlineData != nil, p.FileData != nil, p.FunctionCall != nil, p.FunctionResponse != nil,
		len(p.ExecutableCode) > 0 && string(p.ExecutableCode) != "null",
		len(p.CodeExecutionResult) > 0 && string(p.CodeExecutionResult) != "null",
	} {
		if set {
			n++
		}
	}
	return n
}

// call is a functionCall of the history, for pairing functionResponses with it.
type call struct {
	id, name string
	turn     int // index of its content
	answered bool
}

func decodeContents(prefix string, contents []wireContent, r *llm.Request) error {
	var calls []*call
	r.Messages = make([]llm.Message, 0, len(contents)+1)
	for i := range contents {
		c := &contents[i]
		field := prefix + "contents[" + strconv.Itoa(i) + "]"
		switch c.Role {
		case "model":
			parts, err := modelParts(field, i, c.Parts, &calls)
			if err != nil {
				return err
			}
			if len(parts) > 0 {
				r.Messages = append(r.Messages, llm.Message{Role: llm.RoleAssistant, Content: parts})
			}
		case "user", "", "function": // "function" is the role older clients give function responses
			results, rest, err := userParts(field, c.Parts, calls)
			if err != nil {
				return err
			}
			if len(results) > 0 {
				r.Messages = append(r.Messages, llm.Message{Role: llm.RoleTool, Content: results})
			}
			if len(rest) > 0 {
				r.Messages = append(r.Messages, llm.Message{Role: llm.RoleUser, Content: rest})
			}
		default:
			return wire.Invalid(field+".role", "must be user or model, not %q", c.Role)
		}
	}
	if len(r.Messages) == 0 {
		return polydev.Errorf(polydev.EINVALID, "%scontents: no part has content to send", prefix)
	}
	return nil
}

func modelParts(field string, turn int, parts []wirePart, calls *[]*call) ([]llm.Part, error) {
	out := make([]llm.Part, 0, len(parts))
	for j := range parts {
		p := &parts[j]
		pf := field + ".parts[" + strconv.Itoa(j) + "]"
		if err := checkPart(pf, p); err != nil || p.Thought {
			// Thought summaries are Gemini's reasoning as it chose to show it: not forwarded.
			if err != nil {
				return nil, err
			}
			continue
		}
		switch {
		case p.Text != nil:
			if *p.Text != "" {
				out = append(out, llm.TextPart(*p.Text))
			}
		case p.FunctionCall != nil:
			fc := p.FunctionCall
			if fc.Name == "" {
				return nil, wire.Invalid(pf+".functionCall.name", "is required")
			}
			args := fc.Args
			if len(args) == 0 || string(args) == "null" {
				args = json.RawMessage("{}")
			} else if !wire.IsObject(args) {
				return nil, wire.Invalid(pf+".functionCall.args", "must be an object")
			}
			id := fc.ID
			if id == "" {
				// Gemini gives calls no ids; the position makes one that is stable across turns.
				id = "call_" + strconv.Itoa(turn) + "_" + strconv.Itoa(j)
			}
			*calls = append(*calls, &call{id: id, name: fc.Name, turn: turn})
			out = append(out, llm.Part{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: id, Name: fc.Name, Arguments: args}})
		case p.FunctionResponse != nil:
			return nil, wire.Invalid(pf+".functionResponse", "belongs in a user content, not a model one")
		case p.InlineData != nil, p.FileData != nil:
			return nil, wire.Invalid(pf, "media in a model content cannot be translated for another provider")
		}
	}
	return out, nil
}

// checkPart refuses parts that are ambiguous or that only Gemini can run.
func checkPart(field string, p *wirePart) error {
	switch {
	case dataFields(p) > 1:
		return wire.Invalid(field, "holds more than one of text, inlineData, fileData, functionCall, functionResponse, executableCode, codeExecutionResult")
	case len(p.ExecutableCode) > 0 && string(p.ExecutableCode) != "null":
		return crossOnly(field+".executableCode", "Gemini's code execution")
	case len(p.CodeExecutionResult) > 0 && string(p.CodeExecutionResult) != "null":
		return crossOnly(field+".codeExecutionResult", "Gemini's code execution")
	}
	return nil
}

func userParts(field string, parts []wirePart, calls []*call) (results, rest []llm.Part, err error) {
	for j := range parts {
		p := &parts[j]
		pf := field + ".parts[" + strconv.Itoa(j) + "]"
		if err := checkPart(pf, p); err != nil {
			return nil, nil, err
		}
		if p.Thought {
			continue
		}
		switch {
		case p.Text != nil:
			if *p.Text != "" {
				rest = append(rest, llm.TextPart(*p.Text))
			}
		case p.InlineData != nil, p.FileData != nil:
			part, err := media(pf, p.InlineData, p.FileData, true)
			if err != nil {
				return nil, nil, err
			}
			rest = append(rest, part)
		case p.FunctionResponse != nil:
			res, err := functionResponse(pf+".functionResponse", p.FunctionResponse, calls)
			if err != nil {
				return nil, nil, err
			}
			results = append(results, llm.Part{Kind: llm.PartToolResult, ToolResult: res})
		case p.FunctionCall != nil:
			return nil, nil, wire.Invalid(pf+".functionCall", "belongs in a model content, not a user one")
		}
	}
	return results, rest, nil
}

// media reads inline data or a file by URI: images (inline or at an http(s) URL), PDFs (inline)
// and text files (inline, UTF-8) have canonical counterparts; other media do not.
func media(field string, blob *wireBlob, file *wireFileData, docs bool) (llm.Part, error) {
	if blob != nil {
		if blob.Data == "" {
			return llm.Part{}, wire.Invalid(field+".inlineData.data", "is required")
		}
		switch mt := blob.MimeType; {
		case strings.HasPrefix(mt, "image/"):
			return llm.Part{Kind: llm.PartImage, Image: &llm.Image{MediaType: mt, Data: blob.Data}}, nil
		case docs && mt == "application/pdf":
			return llm.Part{Kind: llm.PartDocument, Document: &llm.Document{MediaType: mt, Data: blob.Data}}, nil
		case docs && strings.HasPrefix(mt, "text/"):
			text, err := base64.StdEncoding.DecodeString(blob.Data)
			if err != nil || !utf8.Valid(text) {
				return llm.Part{}, wire.Invalid(field+".inlineData.data", "must be base64 of UTF-8 text for %s", mt)
			}
			return llm.TextPart(string(text)), nil
		}
		what := "images, PDFs and text"
		if !docs {
			what = "images"
		}
		return llm.Part{}, wire.Invalid(field+".inlineData.mimeType", "%q cannot be translated for another provider (%s only)", blob.MimeType, what)
	}
	if file.MimeType != "" && !strings.HasPrefix(file.MimeType, "image/") {
		return llm.Part{}, wire.Invalid(field+".fileData.mimeType", "%q by URI cannot be translated for another provider (images only; send other files inline)", file.MimeType)
	}
	if !strings.HasPrefix(file.FileURI, "https://") && !strings.HasPrefix(file.FileURI, "http://") {
		return llm.Part{}, wire.Invalid(field+".fileData.fileUri", "must be an http(s) URL another provider can fetch")
	}
	return llm.Part{Kind: llm.PartImage, Image: &llm.Image{URL: file.FileURI, MediaType: file.MimeType}}, nil
}

// functionResponse pairs a result with its call: by id when the id is one of the history's calls,
// otherwise with the oldest unanswered call of that name (Gemini clients often send no ids, or ids
// of their own making).
func functionResponse(field string, fr *wireFunctionResponse, calls []*call) (*llm.ToolResult, error) {
	if fr.Name == "" {
		return nil, wire.Invalid(field+".name", "is required")
	}
	var match *call
	if fr.ID != "" {
		for _, c := range calls {
			if c.id == fr.ID {
				match = c
				break
			}
		}
	}
	for _, c := range calls {
		if match != nil {
			break
		}
		if c.name == fr.Name && !c.answered {
			match = c
		}
	}
	if match == nil {
		return nil, wire.Invalid(field, "answers no earlier functionCall named %q", fr.Name)
	}
	match.answered = true
	res := &llm.ToolResult{CallID: match.id, Name: match.name}
	text, isErr, err := responseText(field+".response", fr.Response)
	if err != nil {
		return nil, err
	}
	res.IsError = isErr
	if text != "" {
		res.Content = append(res.Content, llm.TextPart(text))
	}
	for k, p := range fr.Parts {
		pf := field + ".parts[" + strconv.Itoa(k) + "]"
		if p.InlineData == nil && p.FileData == nil {
			return nil, wire.Invalid(pf, "must hold inlineData or fileData")
		}
		part, err := media(pf, p.InlineData, p.FileData, false) // tool results carry text and images
		if err != nil {
			return nil, err
		}
		res.Content = append(res.Content, part)
	}
	return res, nil
}

// responseText is a function response as text: {"output": s} is s, {"error": s} is the failed run
// s (the convention Gemini's docs and clients use), any other object its JSON.
func responseText(field string, raw json.RawMessage) (text string, isErr bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return "", false, wire.Invalid(field, "must be an object")
	}
	if len(obj) == 1 {
		for k, v := range obj {
			var s string
			if (k == "output" || k == "error") && json.Unmarshal(v, &s) == nil {
				return s, k == "error", nil
			}
		}
	}
	compact, err := json.Marshal(obj) // compact, keys sorted: stable for prompt caches
	if err != nil {
		return "", false, wire.Invalid(field, "must be an object")
	}
	return string(compact), false, nil
}
