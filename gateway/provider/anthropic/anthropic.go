// Package anthropic is the provider adapter for the Anthropic Messages API: POST {base}/v1/messages
// with the x-api-key and anthropic-version: 2023-06-01 headers, GET {base}/v1/models. It
// translates llm.Request to the wire format (system prompt top-level, tool results as tool_result
// blocks in a user turn, max_tokens always set) and back, decodes the stream's named events
// (message_start, content_block_*, message_delta, message_stop, and the error event that may come
// after a 200), and maps error bodies to *llm.Error. It implements provider.Provider and holds no
// state between calls.
package anthropic

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

// Name is the provider's name.
const Name = "anthropic"

// DefaultBaseURL is Anthropic's public API.
const DefaultBaseURL = "https://api.anthropic.com"

// Version is the anthropic-version header sent with every request.
const Version = "2023-06-01"

// DefaultMaxTokens is the max_tokens sent when the request sets none: the Messages API requires
// the field, and OpenAI-shaped clients often omit it. 4096 is within every current Claude model's
// output limit.
const DefaultMaxTokens = 4096

// Provider is the Anthropic adapter. The zero value is ready to use.
type Provider struct {
	// MaxTokens replaces DefaultMaxTokens when non-zero.
	MaxTokens int
}

var _ provider.Provider = (*Provider)(nil)

// Name implements provider.Provider.
func (*Provider) Name() string { return Name }

func base(t provider.Target) string {
	if t.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(t.BaseURL, "/")
}

func call(c *http.Client, t provider.Target) upstream.Call {
	return upstream.Call{Provider: Name, Client: c, Key: t.APIKey, Parse: parseError}
}

func newRequest(ctx context.Context, method, url string, t provider.Target, body []byte, stream bool) (*http.Request, error) {
	req, err := upstream.NewRequest(ctx, method, url, body, stream)
	if err != nil {
		return nil, llm.Errorf(Name, llm.ErrInvalidRequest, "invalid base URL")
	}
	req.Header["X-Api-Key"] = []string{t.APIKey}
	req.Header["Anthropic-Version"] = []string{Version}
	return req, nil
}

func (p *Provider) send(ctx context.Context, c *http.Client, t provider.Target, r *llm.Request, stream bool) (*http.Response, int, error) {
	maxTokens := DefaultMaxTokens
	if p.MaxTokens > 0 {
		maxTokens = p.MaxTokens
	}
	body, err := encodeRequest(r, stream, maxTokens)
	if err != nil {
		return nil, 0, err
	}
	req, err := newRequest(ctx, http.MethodPost, base(t)+"/v1/messages", t, body, stream)
	if err != nil {
		return nil, 0, err
	}
	resp, err := call(c, t).Send(req)
	return resp, len(body), err
}

// Do implements provider.Provider.
func (p *Provider) Do(ctx context.Context, c *http.Client, t provider.Target, r *llm.Request) (*llm.Response, error) {
	resp, n, err := p.send(ctx, c, t, r, false)
	if err != nil {
		return nil, err
	}
	body, err := call(c, t).ReadBody(ctx, resp)
	if err != nil {
		return nil, err
	}
	out, err := decodeResponse(body, n)
	if err == nil && useJSONTool(r) {
		unwrapJSONTool(out)
	}
	return out, err
}

// Stream implements provider.Provider.
func (p *Provider) Stream(ctx context.Context, c *http.Client, t provider.Target, r *llm.Request) (llm.Stream, error) {
	resp, n, err := p.send(ctx, c, t, r, true)
	if err != nil {
		return nil, err
	}
	s := upstream.NewStream(ctx, call(c, t), resp, &decoder{}, n)
	if useJSONTool(r) {
		return newJSONToolStream(s), nil
	}
	return s, nil
}

// Check implements provider.Checker: what encoding the request would refuse, without encoding it.
func (*Provider) Check(r *llm.Request) error { return checkOptions(r) }

// Models implements provider.Provider (the first 1000 models; nobody has more).
func (p *Provider) Models(ctx context.Context, c *http.Client, t provider.Target) ([]provider.Model, error) {
	req, err := newRequest(ctx, http.MethodGet, base(t)+"/v1/models?limit=1000", t, nil, false)
	if err != nil {
		return nil, err
	}
	cl := call(c, t)
	resp, err := cl.Send(req)
	if err != nil {
		return nil, err
	}
	body, err := cl.ReadBody(ctx, resp)
	if err != nil {
		return nil, err
	}
	var list struct {
		Data []struct {
			ID          string `json:"id"`
			DisplayName string `json:"display_name"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	out := make([]provider.Model, 0, len(list.Data))
	for _, m := range list.Data {
		out = append(out, provider.Model{ID: m.ID, DisplayName: m.DisplayName, Provider: Name})
	}
	return out, nil
}

// DecodeStream decodes a raw stream body, exactly as Stream does once the upstream answered 200:
// for replaying recorded streams, benchmarks and fuzzing. requestBytes sizes the input estimate
// used if the body never reports usage.
func DecodeStream(ctx context.Context, body io.ReadCloser, requestBytes int) llm.Stream {
	return upstream.NewBodyStream(ctx, upstream.Call{Provider: Name}, body, &decoder{}, requestBytes)
}

// newRawRequest is newRequest for a passthrough body sent as its parts (see provider.RawRequest).
func newRawRequest(ctx context.Context, url string, t provider.Target, r *provider.RawRequest, stream bool) (*http.Request, error) {
	req, err := upstream.NewRequestParts(ctx, http.MethodPost, url, r.Parts(), r.Len(), stream, r.BodyRef)
	if err != nil {
		return nil, llm.Errorf(Name, llm.ErrInvalidRequest, "invalid base URL")
	}
	req.Header["X-Api-Key"] = []string{t.APIKey}
	req.Header["Anthropic-Version"] = []string{Version}
	return req, nil
}
