package openai

import (
	"context"
	"net/http"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

var _ provider.Passthrough = (*Provider)(nil)

// Passthrough operations.
const (
	OpResponses  = "responses"  // POST {base}/responses, the Responses API
	OpChat       = "chat"       // POST {base}/chat/completions (chat_passthrough.go)
	OpEmbeddings = "embeddings" // POST {base}/embeddings (embed_passthrough.go)
)

// forwardedHeaders are the client headers a passthrough request carries upstream: the beta
// features the client opted into. Nothing else (credentials above all).
var forwardedHeaders = []string{"Openai-Beta"}

// SendRaw implements provider.Passthrough: the body goes to {base}/responses,
// {base}/chat/completions or {base}/embeddings as it is (a chat stream may gain stream_options.include_usage, see
// chatParts), with the key as a Bearer token and the client's openai-beta header.
func (p *Provider) SendRaw(ctx context.Context, c *http.Client, t provider.Target, r *provider.RawRequest) (*http.Response, error) {
	path := ""
	parts, n := r.Parts(), r.Len()
	switch r.Op {
	case OpResponses:
		path = "/responses"
	case OpChat:
		path = "/chat/completions"
		parts, n = chatParts(r)
	case OpEmbeddings:
		path = "/embeddings"
	default:
		return nil, llm.Errorf(Name, llm.ErrInvalidRequest, "operation %q is not supported", r.Op)
	}
	req, err := upstream.NewRequestParts(ctx, http.MethodPost, base(t)+path, parts, n, r.Stream, r.BodyRef)
	if err != nil {
		return nil, llm.Errorf(Name, llm.ErrInvalidRequest, "invalid base URL")
	}
	if t.APIKey != "" {
		req.Header["Authorization"] = []string{"Bearer " + t.APIKey}
	}
	for _, h := range forwardedHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	return call(c, t).Send(req)
}

// Meter implements provider.Passthrough.
func (p *Provider) Meter(r *provider.RawRequest) provider.Meter {
	switch r.Op {
	case OpChat:
		return newChatMeter(r)
	case OpEmbeddings:
		return &embedMeter{reqBytes: r.Len()}
	}
	return &responsesMeter{reqBytes: r.Len()}
}
