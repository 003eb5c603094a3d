// Package provider defines what a provider adapter is: the Provider interface that
// gateway/provider/openai, gateway/provider/anthropic and gateway/provider/gemini implement, and the
// Target (base URL and key) every call is made against.
//
// An adapter translates an llm.Request into the provider's wire format, sends it with the
// *http.Client it is given, and translates the answer back: an *llm.Response, an llm.Stream, or an
// *llm.Error that tells a router whether to retry or fail over. Adapters hold no state and no
// credentials between calls, choose no keys, and do no accounting; the router does. They never put
// a key in a URL, and never let one into an error message.
//
// The context given to Do and Stream governs the whole upstream exchange: cancelling it (because
// the client went away) aborts the upstream request at once, also in the middle of a stream.
// The *http.Client is the caller's: its transport decides connection reuse, timeouts and which
// addresses may be dialed (see netguard); redirects should not be followed.
package provider

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/polydev/polydev/gateway/llm"
)

// Provider is one upstream API family.
type Provider interface {
	// Name is the provider's name: "openai", "anthropic" or "gemini".
	Name() string
	// Do runs a non-streamed generation.
	Do(ctx context.Context, c *http.Client, t Target, r *llm.Request) (*llm.Response, error)
	// Stream starts a streamed generation. It returns once the upstream answered with its response
	// headers: an HTTP error is returned here (so a router can fail over before the client saw a
	// byte), everything after arrives through the Stream.
	Stream(ctx context.Context, c *http.Client, t Target, r *llm.Request) (llm.Stream, error)
	// Models lists the models the key can use.
	Models(ctx context.Context, c *http.Client, t Target) ([]Model, error)
}

// Checker is implemented by adapters that can tell, without sending anything, that a request asks
// for what their provider cannot do (a sampling control it lacks, an unmappable reasoning level).
// The router asks before it counts the request or reserves a key, so a refused request changes
// nothing. The error is a polydev.EINVALID naming the client's field.
type Checker interface {
	Check(r *llm.Request) error
}

// WireFormat is the client wire format an adapter's requests speak (llm.Native formats): fields
// that only that format carries (llm.Request.Native) are refused on every other adapter.
func WireFormat(providerName string) string {
	if providerName == "openai" {
		return llm.NativeOpenAIChat
	}
	return providerName
}

// Target is where and as whom a call is made. It comes from configuration (admin or BYOK), never
// from a client's request body.
type Target struct {
	// BaseURL is the API root, as the provider's SDKs take it: https://api.openai.com/v1 (or any
	// OpenAI-compatible server's /v1), https://api.anthropic.com,
	// https://generativelanguage.googleapis.com. Empty means the provider's public API.
	BaseURL string
	// APIKey is sent in the provider's header. It may be empty for OpenAI-compatible servers
	// without authentication.
	APIKey string
}

// String never shows the key.
func (t Target) String() string {
	if t.APIKey == "" {
		return t.BaseURL
	}
	return t.BaseURL + " (key redacted)"
}

// GoString never shows the key either (%#v).
func (t Target) GoString() string {
	return "provider.Target{BaseURL: " + t.BaseURL + ", APIKey: [redacted]}"
}

// LogValue keeps the key out of slog output.
func (t Target) LogValue() slog.Value { return slog.StringValue(t.String()) }

// Model is an upstream model the key can use.
type Model struct {
	ID          string // the id to put in llm.Request.Model
	DisplayName string // when the provider gives one
	Provider    string
}

// Embedder is implemented by adapters whose provider has an embeddings API (OpenAI and compatible
// servers, Gemini; Anthropic has none). Errors are as Do's.
type Embedder interface {
	Embed(ctx context.Context, c *http.Client, t Target, r *llm.EmbedRequest) (*llm.EmbedResponse, error)
}
