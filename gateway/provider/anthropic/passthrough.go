package anthropic

import (
	"context"
	"net/http"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
)

var _ provider.Passthrough = (*Provider)(nil)

// Passthrough operations.
const (
	OpMessages    = "messages"     // POST /v1/messages
	OpCountTokens = "count_tokens" // POST /v1/messages/count_tokens (unbilled)
)

// forwardedHeaders are the client headers a passthrough request carries upstream: the API
// version and the beta features the client opted into. Nothing else (credentials above all).
var forwardedHeaders = []string{"Anthropic-Version", "Anthropic-Beta"}

// SendRaw implements provider.Passthrough: the body goes to /v1/messages (or count_tokens) as it
// is, with the key in x-api-key, the client's anthropic-version (Version when it sent none) and
// anthropic-beta.
func (p *Provider) SendRaw(ctx context.Context, c *http.Client, t provider.Target, r *provider.RawRequest) (*http.Response, error) {
	path := "/v1/messages"
	switch r.Op {
	case OpMessages:
	case OpCountTokens:
		path = "/v1/messages/count_tokens"
	default:
		return nil, llm.Errorf(Name, llm.ErrInvalidRequest, "operation %q is not supported", r.Op)
	}
	req, err := newRawRequest(ctx, base(t)+path, t, r, r.Stream)
	if err != nil {
		return nil, err
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
	if r.Op == OpCountTokens {
		return nil
	}
	return &meter{reqBytes: r.Len()}
}
