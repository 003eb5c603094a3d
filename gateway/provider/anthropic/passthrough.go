package anthropic

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
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
	resp, err := call(c, t).Send(req)
	if err != nil || r.Op != OpMessages {
		return resp, err
	}
	return upstream.HoldUntilContent(ctx, Name, resp, holdClassify)
}

// holdClassify: message_start and pings are held; an error event before any content block fails
// the attempt (Anthropic sends overloaded_error this way), so the router can try another key.
func holdClassify(ev sse.Event) (bool, error) {
	typ := ev.Type
	if typ == "" {
		var t struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(ev.Data, &t)
		typ = t.Type
	}
	switch typ {
	case "message_start", "ping", "":
		return false, nil
	case "error":
		err := streamError(ev.Data)
		if _, ok := llm.AsError(err); !ok {
			err = upstream.Malformed(Name, true, err)
		}
		return false, err
	}
	return true, nil
}

// Meter implements provider.Passthrough.
func (p *Provider) Meter(r *provider.RawRequest) provider.Meter {
	if r.Op == OpCountTokens {
		return nil
	}
	return &meter{reqBytes: r.Len()}
}
