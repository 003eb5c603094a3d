// Package gemini is the provider adapter for the Google Gemini API (generativelanguage):
// POST {base}/v1beta/models/{model}:generateContent and :streamGenerateContent?alt=sse, with the key
// in the x-goog-api-key header (never in the URL, where it would end up in logs), and
// GET {base}/v1beta/models. It translates llm.Request to the wire format (systemInstruction,
// contents with roles user/model, functionCall/functionResponse parts, parametersJsonSchema) and
// back, and maps google.rpc error bodies to *llm.Error. It implements provider.Provider and holds
// no state between calls.
//
// Gemini returns function calls without ids; the adapter makes up unique ones ("call_" + random
// hex) and, going the other way, finds a tool result's function name from the earlier call with
// the same id.
//
// It also implements provider.Passthrough (passthrough.go, meter.go): a Gemini client's own body
// sent to models/{model}:generateContent, :streamGenerateContent (with or without alt=sse) or
// :countTokens as written, its usage read from usageMetadata as it is relayed.
package gemini

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
const Name = "gemini"

// DefaultBaseURL is Google's public Gemini API.
const DefaultBaseURL = "https://generativelanguage.googleapis.com"

// Provider is the Gemini adapter. The zero value is ready to use.
type Provider struct{}

var _ provider.Provider = (*Provider)(nil)

// Name implements provider.Provider.
func (*Provider) Name() string { return Name }

// apiRoot is the base URL with the API version: a base that already ends in /v1beta or /v1 is
// taken as it is.
func apiRoot(t provider.Target) string {
	b := t.BaseURL
	if b == "" {
		b = DefaultBaseURL
	}
	b = strings.TrimRight(b, "/")
	if strings.HasSuffix(b, "/v1beta") || strings.HasSuffix(b, "/v1") {
		return b
	}
	return b + "/v1beta"
}

// modelPath validates a model id for use in the URL path: no slashes, dots-only names or query
// characters can reach the path ("models/" prefixes are accepted and removed).
func modelPath(model string) (string, error) {
	m := strings.TrimPrefix(model, "models/")
	ok := m != "" && len(m) <= 128 && strings.Trim(m, ".") != ""
	for i := 0; ok && i < len(m); i++ {
		c := m[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
	}
	if !ok {
		return "", llm.Errorf(Name, llm.ErrInvalidRequest, "invalid Gemini model name %q", model)
	}
	return m, nil
}

func call(c *http.Client, t provider.Target) upstream.Call {
	return upstream.Call{Provider: Name, Client: c, Key: t.APIKey, Parse: parseError}
}

func newRequest(ctx context.Context, method, url string, t provider.Target, body []byte, stream bool) (*http.Request, error) {
	req, err := upstream.NewRequest(ctx, method, url, body, stream)
	if err != nil {
		return nil, llm.Errorf(Name, llm.ErrInvalidRequest, "invalid base URL")
	}
	req.Header["X-Goog-Api-Key"] = []string{t.APIKey}
	return req, nil
}

func (p *Provider) send(ctx context.Context, c *http.Client, t provider.Target, r *llm.Request, stream bool) (*http.Response, int, error) {
	model, err := modelPath(r.Model)
	if err != nil {
		return nil, 0, err
	}
	body, err := encodeRequest(r)
	if err != nil {
		return nil, 0, err
	}
	url := apiRoot(t) + "/models/" + model + ":generateContent"
	if stream {
		url = apiRoot(t) + "/models/" + model + ":streamGenerateContent?alt=sse"
	}
	req, err := newRequest(ctx, http.MethodPost, url, t, body, stream)
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

// Models implements provider.Provider: the models that support generateContent (first page of
// up to 1000).
func (p *Provider) Models(ctx context.Context, c *http.Client, t provider.Target) ([]provider.Model, error) {
	req, err := newRequest(ctx, http.MethodGet, apiRoot(t)+"/models?pageSize=1000", t, nil, false)
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
		Models []struct {
			Name        string   `json:"name"`
			DisplayName string   `json:"displayName"`
			Methods     []string `json:"supportedGenerationMethods"`
		} `json:"models"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	out := make([]provider.Model, 0, len(list.Models))
	for _, m := range list.Models {
		generates := len(m.Methods) == 0
		for _, meth := range m.Methods {
			generates = generates || meth == "generateContent"
		}
		if generates {
			out = append(out, provider.Model{ID: strings.TrimPrefix(m.Name, "models/"), DisplayName: m.DisplayName, Provider: Name})
		}
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
	req.Header["X-Goog-Api-Key"] = []string{t.APIKey}
	return req, nil
}

// Check implements provider.Checker.
func (*Provider) Check(r *llm.Request) error {
	if r.Reasoning == nil {
		return nil
	}
	_, err := thinkingConfig(r.Model, r.Reasoning)
	return err
}
