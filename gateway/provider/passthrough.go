package provider

import (
	"context"
	"net/http"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/sse"
)

// RawRequest is a client's request in the upstream's own wire format, forwarded as written
// (passthrough): the inbound shape and the upstream speak the same API, so nothing is translated.
type RawRequest struct {
	// Op names the upstream operation in the adapter's terms ("messages", "count_tokens", ...).
	// An adapter refuses an Op it does not know.
	Op string
	// Model is the upstream model id. Formats that carry the model in the body get a Body whose
	// model the caller rewrites (ModelAt and ModelValue, see gateway/passthrough.Fields.Splice);
	// formats that carry it in the URL (Gemini) put it there from this field.
	Model string
	// Body is sent as it is, byte for byte, except for the splice below. It is the client's
	// body and is never modified (a retry on another key sends it again).
	Body []byte
	// ModelAt and ModelValue splice the upstream model into Body without copying it: when
	// ModelValue is non-nil, Body[ModelAt[0]:ModelAt[1]] is sent as ModelValue. Adapters send
	// Parts (Len bytes), never Body directly.
	ModelAt    [2]int
	ModelValue []byte
	// BodyRef, when non-nil, counts the users of Body's buffer, which the caller reuses once
	// the count is zero: each upstream request body that sends Body holds a reference (Hold
	// when it is made) until the transport closes it (Release), and reads nothing after that.
	BodyRef BodyRef
	// Header is the client's request header. An adapter forwards only the headers on its own
	// allow-list (Anthropic: anthropic-beta, anthropic-version), never credentials.
	Header http.Header
	// Stream is whether the client asked for a streamed answer (the relay goes by the upstream's
	// Content-Type in the end).
	Stream bool
}

// Passthrough is implemented by adapters that can forward requests in their own wire format.
type Passthrough interface {
	// SendRaw sends r to the upstream with t's credentials and returns its open 2xx response;
	// any other status is an *llm.Error exactly as Do and Stream return it (keys redacted), so a
	// router can fail over before the client saw a byte.
	SendRaw(ctx context.Context, c *http.Client, t Target, r *RawRequest) (*http.Response, error)
	// Meter returns a fresh usage meter for the answer to r, or nil for an operation that
	// generates nothing and is not billed (token counting).
	Meter(r *RawRequest) Meter
}

// Meter reads the usage of one passthrough answer as it is relayed, without changing it.
// It is fed either the SSE events of a stream, in order, or a whole JSON body.
type Meter interface {
	// Event reads one upstream event. relay is false for an event the client must not get
	// (one the gateway asked for on its own account, such as OpenAI's usage-only chunk when the
	// client did not ask for usage); SSE comments just before a dropped event go with it. err
	// is the provider's in-stream error, if the event is one (it is relayed all the same: the
	// client speaks this format).
	Event(ev sse.Event) (relay bool, err error)
	// Body reads a whole non-streamed answer. An error means the body is not the documented
	// format; the answer is still relayed, and billed by estimate.
	Body(b []byte) error
	// Complete reports whether the answer is complete: its final usage is known. The relay
	// makes the usage record durable as soon as this turns true, before the event that made it
	// true reaches the client.
	Complete() bool
	// Usage is the usage to bill: exact for a complete answer; for an incomplete one, what the
	// provider reported so far with estimates for the rest (see llm.Usage), and Partial set.
	Usage() llm.Usage
}

// BodyRef is a reference count on a request body's buffer (see RawRequest.BodyRef).
type BodyRef interface {
	Hold()
	Release()
}
