// Package openai is the provider adapter for the OpenAI Chat Completions API and the servers that
// copy it (Ollama, vLLM, llama.cpp, ...): POST {base}/chat/completions with a Bearer key,
// GET {base}/models. It translates llm.Request to the wire format and back, streams with
// stream_options.include_usage always set (so OpenAI sends its final usage chunk), and maps error
// bodies to *llm.Error. It implements provider.Provider and holds no state between calls.
//
// OpenAI-compatible servers often omit usage; the adapter then reports estimated, flagged usage
// (see llm.Usage). A missing key sends no Authorization header, as local servers expect.
package openai

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

// Name is the provider's name.
const Name = "openai"

// DefaultBaseURL is OpenAI's public API.
const DefaultBaseURL = "https://api.openai.com/v1"

// Provider is the OpenAI adapter. The zero value is ready to use.
type Provider struct {
	// MaxTokensField names the output limit field: "max_completion_tokens" (required by OpenAI's
	// reasoning models) or "max_tokens" (what most compatible servers understand). Empty picks
	// max_completion_tokens for api.openai.com and max_tokens for every other base URL.
	MaxTokensField string
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

func (p *Provider) maxTokensField(baseURL string) string {
	if p.MaxTokensField != "" {
		return p.MaxTokensField
	}
	if u, err := url.Parse(baseURL); err == nil && u.Hostname() == "api.openai.com" {
		return "max_completion_tokens"
	}
	return "max_tokens"
}

func call(c *http.Client, t provider.Target) upstream.Call {
	return upstream.Call{Provider: Name, Client: c, Key: t.APIKey, Parse: parseError}
}

func (p *Provider) send(ctx context.Context, c *http.Client, t provider.Target, r *llm.Request, stream bool) (*http.Response, int, error) {
	b := base(t)
	body, err := encodeRequest(r, stream, p.maxTokensField(b))
	if err != nil {
		return nil, 0, err
	}
	req, err := upstream.NewRequest(ctx, http.MethodPost, b+"/chat/completions", body, stream)
	if err != nil {
		return nil, 0, llm.Errorf(Name, llm.ErrInvalidRequest, "invalid base URL")
	}
	if t.APIKey != "" {
		req.Header["Authorization"] = []string{"Bearer " + t.APIKey}
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
	return decodeResponse(body, n)
}

// Stream implements provider.Provider.
func (p *Provider) Stream(ctx context.Context, c *http.Client, t provider.Target, r *llm.Request) (llm.Stream, error) {
	resp, n, err := p.send(ctx, c, t, r, true)
	if err != nil {
		return nil, err
	}
	return upstream.NewStream(ctx, call(c, t), resp, &decoder{}, n), nil
}

// Models implements provider.Provider.
func (p *Provider) Models(ctx context.Context, c *http.Client, t provider.Target) ([]provider.Model, error) {
	req, err := upstream.NewRequest(ctx, http.MethodGet, base(t)+"/models", nil, false)
	if err != nil {
		return nil, llm.Errorf(Name, llm.ErrInvalidRequest, "invalid base URL")
	}
	if t.APIKey != "" {
		req.Header["Authorization"] = []string{"Bearer " + t.APIKey}
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
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	out := make([]provider.Model, 0, len(list.Data))
	for _, m := range list.Data {
		out = append(out, provider.Model{ID: m.ID, Provider: Name})
	}
	return out, nil
}

// DecodeStream decodes a raw stream body, exactly as Stream does once the upstream answered 200:
// for replaying recorded streams, benchmarks and fuzzing. requestBytes sizes the input estimate
// used if the body never reports usage.
func DecodeStream(ctx context.Context, body io.ReadCloser, requestBytes int) llm.Stream {
	return upstream.NewBodyStream(ctx, upstream.Call{Provider: Name}, body, &decoder{}, requestBytes)
}
