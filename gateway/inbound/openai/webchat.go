package openai

import (
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// WebChat is the web UI's chat request (POST /api/chat/completions, the seed's shape): the
// messages of a Chat Completions request, with the provider given apart from the model and the
// conversation it belongs to.
type WebChat struct {
	Request *llm.Request
	Options Options
	// SessionID names the conversation, as the client sent it (empty: a new one).
	SessionID string
}

type wireWebChat struct {
	Provider    string        `json:"provider"`
	Model       string        `json:"model"`
	Messages    []wireMessage `json:"messages"`
	Stream      bool          `json:"stream"`
	SessionID   string        `json:"sessionId"`
	MaxTokens   *int          `json:"max_tokens"`
	Temperature *float64      `json:"temperature"`
}

// DecodeWebChat parses a web chat request with the same rules as DecodeRequest (the messages are
// read by the same code). The model is "provider/model" when the provider is given apart and the
// model does not already start with it. A streamed answer ends with a usage chunk: the UI shows it.
func DecodeWebChat(body []byte) (*WebChat, error) {
	var in wireWebChat
	if err := wire.Decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Provider) > maxModelLen {
		return nil, wire.Invalid("provider", "longer than %d characters", maxModelLen)
	}
	if in.MaxTokens != nil && *in.MaxTokens < 1 {
		return nil, polydev.Errorf(polydev.EINVALID, "max_tokens: must be at least 1")
	}
	model := in.Model
	if in.Provider != "" && model != "" && !strings.HasPrefix(model, in.Provider+"/") {
		model = in.Provider + "/" + model
	}
	w := wireRequest{Model: model, Messages: in.Messages, MaxTokens: in.MaxTokens, Temperature: in.Temperature, Stream: in.Stream}
	r := &llm.Request{Model: model, Temperature: in.Temperature, Stream: in.Stream}
	if err := checkScalars(&w, r); err != nil {
		return nil, err
	}
	if err := decodeMessages(w.Messages, r); err != nil {
		return nil, err
	}
	return &WebChat{Request: r, Options: Options{IncludeUsage: in.Stream}, SessionID: in.SessionID}, nil
}
