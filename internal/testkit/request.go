package testkit

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Request is a request a fake upstream received.
type Request struct {
	Seq      int64 // 1-based arrival order, shared with Disconnect.Seq
	Provider Provider
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	// Key is the API key the client presented where the provider expects
	// it (Authorization bearer, x-api-key, x-goog-api-key or ?key=), or "".
	Key string
}

// JSON decodes the request body into v.
func (r Request) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// Model returns the requested model: the body's "model" field for OpenAI
// and Anthropic, the {model} path segment for Gemini.
func (r Request) Model() string {
	if r.Provider == Gemini {
		model, _ := geminiModelAction(r.Path)
		return model
	}
	var b struct {
		Model string `json:"model"`
	}
	_ = r.JSON(&b)
	return b.Model
}

// Stream reports whether the request asked for a streamed response.
func (r Request) Stream() bool {
	if r.Provider == Gemini {
		_, action := geminiModelAction(r.Path)
		return action == "streamGenerateContent"
	}
	var b struct {
		Stream bool `json:"stream"`
	}
	_ = r.JSON(&b)
	return b.Stream
}

// geminiModelAction splits /v1beta/models/{model}:{action}.
func geminiModelAction(path string) (model, action string) {
	i := strings.Index(path, "/models/")
	if i < 0 {
		return "", ""
	}
	rest := path[i+len("/models/"):]
	model, action, _ = strings.Cut(rest, ":")
	return model, action
}
