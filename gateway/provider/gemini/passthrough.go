package gemini

import (
	"context"
	"net/http"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
)

var _ provider.Passthrough = (*Provider)(nil)

// Passthrough operations: the method in the URL, and for a stream its framing.
const (
	OpGenerate    = "generateContent"            // POST models/{model}:generateContent
	OpStream      = "streamGenerateContent"      // POST models/{model}:streamGenerateContent?alt=sse
	OpStreamArray = "streamGenerateContentArray" // the same without alt=sse: one JSON array
	OpCountTokens = "countTokens"                // POST models/{model}:countTokens (unbilled)
)

// SendRaw implements provider.Passthrough: the body goes to models/{r.Model}:{method} as it is,
// with the key in x-goog-api-key. No client header is forwarded: Gemini's API takes none that
// matter for the answer.
func (p *Provider) SendRaw(ctx context.Context, c *http.Client, t provider.Target, r *provider.RawRequest) (*http.Response, error) {
	model, err := modelPath(r.Model)
	if err != nil {
		return nil, err
	}
	method, stream := "", false
	switch r.Op {
	case OpGenerate, OpCountTokens:
		method = ":" + r.Op
	case OpStream:
		method, stream = ":streamGenerateContent?alt=sse", true
	case OpStreamArray:
		method = ":streamGenerateContent"
	default:
		return nil, llm.Errorf(Name, llm.ErrInvalidRequest, "operation %q is not supported", r.Op)
	}
	req, err := newRawRequest(ctx, apiRoot(t)+"/models/"+model+method, t, r, stream)
	if err != nil {
		return nil, err
	}
	return call(c, t).Send(req)
}

// Meter implements provider.Passthrough.
func (p *Provider) Meter(r *provider.RawRequest) provider.Meter {
	if r.Op == OpCountTokens {
		return nil
	}
	return &meter{reqBytes: r.Len()}
}
