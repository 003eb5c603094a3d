package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/anthropic"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/passthrough"
	"github.com/polydev/polydev/gateway/provider"
	pvanthropic "github.com/polydev/polydev/gateway/provider/anthropic"
	pvgemini "github.com/polydev/polydev/gateway/provider/gemini"
	"github.com/polydev/polydev/gateway/router"
	"github.com/polydev/polydev/gateway/sse"
)

// rawShape is what the passthrough path needs to know of an inbound shape whose upstream speaks
// it: which provider that is, the name of the output cap, and how the relay writes keep-alives
// and a mid-stream failure in the shape's own terms.
type rawShape struct {
	provider       polydev.Provider
	maxTokensField string
	heartbeatFrame []byte
	errorFrame     func(error) []byte
	forwardHeaders []string // upstream response headers the client gets
}

// anthropicRaw: Anthropic's own ping event as the keep-alive (its SDKs skip it), `event: error`
// for a stream that breaks off, and the upstream's request-id (for the provider's support).
var anthropicRaw = rawShape{
	provider:       polydev.ProviderAnthropic,
	maxTokensField: "max_tokens",
	heartbeatFrame: sse.AppendEvent(nil, "ping", []byte(`{"type": "ping"}`)),
	errorFrame: func(err error) []byte {
		b, _ := anthropic.AppendError(nil, err)
		return sse.AppendEvent(nil, "error", b)
	},
	forwardHeaders: []string{"Request-Id"},
}

// messages serves POST /v1/messages: forwarded as written when the model is Anthropic's,
// translated through the canonical model otherwise.
func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	sf := anthropicSurface
	a, f, route, ok := s.peekRoute(w, r, sf, LimitMessages, anthropicRaw.maxTokensField)
	if !ok {
		return
	}
	defer a.done()
	if route.Provider == anthropicRaw.provider && s.router.Passthrough(route.Provider) {
		s.serveRaw(w, r, sf, anthropicRaw, a, route, &f, pvanthropic.OpMessages)
		return
	}
	req, opts, err := sf.decode(a.body.b)
	if err != nil {
		s.gatewayError(w, r, sf.writeErr, err)
		return
	}
	s.serveRoute(w, r, sf, a, route, req, opts)
}

// peekRoute admits the request (limit names its body cap), peeks at the body's model, stream and
// output cap and resolves the model; on failure it has answered, else the caller defers a.done.
// The body is pooled: serveRaw releases it; a caller that goes another way just drops it (the
// collector takes it, as any buffer).
func (s *Server) peekRoute(w http.ResponseWriter, r *http.Request, sf surface, limit, maxTokensField string) (*admission, passthrough.Fields, *router.Route, bool) {
	var f passthrough.Fields
	a, ok := s.admit(w, r, gate{limit: limit, writeErr: sf.writeErr})
	if !ok {
		return nil, f, nil, false
	}
	f, err := passthrough.Peek(a.body.b, maxTokensField)
	var route *router.Route
	if err == nil {
		route, err = s.router.Resolve(r.Context(), f.Model)
	}
	if err != nil {
		a.body.Release()
		a.done()
		s.gatewayError(w, r, sf.writeErr, err)
		return nil, f, nil, false
	}
	return a, f, route, true
}

// serveRaw forwards body to the route's provider as written (only the model rewritten to the
// upstream id) and relays the answer byte for byte, with the router's admission, key choice,
// reservation, failover and accounting. It releases body when it is done with it (the
// upstream request holds its own reference until the transport closed it).
func (s *Server) serveRaw(w http.ResponseWriter, r *http.Request, sf surface, shape rawShape, a *admission, route *router.Route, f *passthrough.Fields, op string) {
	req := &llm.Request{Model: f.Model, Stream: f.Stream, MaxTokens: f.MaxTokens}
	s.relayCall(w, r, sf, shape, s.router.Start(a.user, sf.name, route, req, a.arrival), f, op, a.body)
}

// relayCall runs a started call as a passthrough: body forwarded with the route's upstream model
// spliced in, the answer relayed and metered, the call finished; body is released at the end.
func (s *Server) relayCall(w http.ResponseWriter, r *http.Request, sf surface, shape rawShape, call *router.Call, f *passthrough.Fields, op string, body *pooledBody) {
	defer body.Release()
	ctx := r.Context()
	route := call.Route
	call.BodyBytes = len(body.b)
	raw := &provider.RawRequest{Op: op, Body: body.b, BodyRef: body, Header: r.Header, Stream: f.Stream}
	raw.ModelAt, raw.ModelValue = f.Splice(route.Upstream)
	var ans *router.RawAnswer
	open := func() (err error) {
		ans, err = call.Raw(ctx, raw)
		return err
	}
	committed, err := false, error(nil)
	if f.Stream && op != pvgemini.OpStreamArray { // a JSON array stream has no keep-alive
		w, committed, err = s.awaitStream(w, call, shape, open)
	} else {
		err = open()
	}
	setEphemeralHeader(w, call)
	if err != nil {
		s.failOpen(w, r, call, sf, committed, shape.errorFrame, err)
		return
	}
	w.Header().Set(OverheadHeader, strconv.FormatInt(call.Overhead().Microseconds(), 10))
	usage, err := passthrough.Relay(ctx, w, ans.Response, ans.Meter, passthrough.Options{
		Provider:       string(route.Provider),
		Heartbeat:      s.cfg.StreamHeartbeat,
		HeartbeatFrame: shape.heartbeatFrame,
		ErrorFrame:     shape.errorFrame,
		WriteError:     sf.writeErr,
		Complete:       ans.Complete,
		CompleteWaits:  ans.CompleteWaits(),
		ForwardHeaders: shape.forwardHeaders,
	})
	_ = ans.Close()
	if err != nil && ctx.Err() != nil {
		err = errors.Join(err, ctx.Err()) // the client went away: billed for what was produced
	}
	if err != nil {
		s.logGatewayFailure(ctx, httpStatusOf(err), err) // the relay told the client; logged like any failure
	}
	call.Finish(usage, err, http.StatusOK)
}

// countTokens serves POST /v1/messages/count_tokens. For an Anthropic model it is forwarded as
// written to Anthropic's count_tokens: admitted like any call (tier, allowed models, ephemeral,
// key choice) and counted toward the tier's and the key's request limits (the provider counts it
// too), but nothing is reserved or billed. For other models the gateway answers an estimate,
// after the same admission.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) {
	sf := anthropicSurface
	a, f, route, ok := s.peekRoute(w, r, sf, LimitCountTokens, "")
	if !ok {
		return
	}
	defer a.done()
	f.Stream = false // count_tokens never streams, whatever the body says
	if route.Provider == anthropicRaw.provider && s.router.Passthrough(route.Provider) {
		s.serveRaw(w, r, sf, anthropicRaw, a, route, &f, pvanthropic.OpCountTokens)
		return
	}
	// Other providers: decoded as for /v1/messages (what could not be sent cannot be counted), and
	// estimated here. OpenAI's chat models have no counting endpoint; Gemini's countTokens would
	// need the request translated to Gemini's body first (not done yet). The answer says it is an
	// estimate in X-Polydev-Token-Count.
	req, err := anthropic.DecodeCountTokens(a.body.b)
	if err != nil {
		s.gatewayError(w, r, sf.writeErr, err)
		return
	}
	call := s.router.Start(a.user, sf.name, route, req, a.arrival)
	if err := call.Admit(r.Context()); err != nil {
		s.gatewayError(w, r, sf.writeErr, err)
		return
	}
	w.Header().Set(TokenCountHeader, "estimate")
	w.Header().Set(OverheadHeader, strconv.FormatInt(call.Overhead().Microseconds(), 10))
	_ = writeJSON(w, http.StatusOK, map[string]int{"input_tokens": llm.EstimateRequestTokens(req)})
}

// TokenCountHeader says how a count_tokens answer was obtained: "estimate" when the gateway
// estimated it (llm.EstimateRequestTokens: about four bytes per token, 1600 per image) because the
// model's provider has no counting endpoint; absent when the provider counted.
const TokenCountHeader = "X-Polydev-Token-Count"
