package web

import (
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/inbound/responses"
	"github.com/polydev/polydev/gateway/llm"
	pvopenai "github.com/polydev/polydev/gateway/provider/openai"
	"github.com/polydev/polydev/gateway/sse"
)

// responsesSurface is the Responses API shape for one request: the response object echoes some of
// the request (model, sampling, tool choice), so the surface is built per request around its
// options (nil before the body is decoded: errors only).
func responsesSurface(opts *responses.Options) surface {
	return surface{
		name:     "responses",
		writeErr: responses.WriteError,
		writeRes: func(w http.ResponseWriter, resp *llm.Response) error { return responses.WriteResponse(w, resp, opts) },
		relay: func(w http.ResponseWriter, st llm.Stream, _ openai.Options, heartbeat time.Duration) (llm.Usage, error) {
			return responses.Relay(w, st, opts, heartbeat)
		},
	}
}

// responsesRaw: the Responses API's passthrough to OpenAI. Keep-alives are SSE comments (the
// format has no ping event); a stream that breaks off ends with an error event, which the SDKs and
// Codex report.
var responsesRaw = rawShape{
	provider:       polydev.ProviderOpenAI,
	maxTokensField: "max_output_tokens",
	errorFrame: func(err error) []byte {
		return sse.AppendEvent(nil, "error", responses.AppendErrorEvent(nil, err))
	},
}

// createResponse serves POST /v1/responses (Codex CLI's only API): forwarded as written when the
// model is OpenAI's, translated through the canonical model for any other provider.
func (s *Server) createResponse(w http.ResponseWriter, r *http.Request) {
	sf := responsesSurface(nil)
	a, f, route, ok := s.peekRoute(w, r, sf, LimitResponses, responsesRaw.maxTokensField)
	if !ok {
		return
	}
	defer a.done()
	if route.Provider == responsesRaw.provider && s.router.Passthrough(route.Provider) {
		s.serveRaw(w, r, sf, responsesRaw, a, route, &f, pvopenai.OpResponses)
		return
	}
	req, opts, err := responses.DecodeRequest(a.body.b)
	if err != nil {
		s.gatewayError(w, r, sf.writeErr, err)
		return
	}
	s.serveRoute(w, r, responsesSurface(&opts), a, route, req, openai.Options{})
}

// storedResponse answers GET and DELETE /v1/responses/{id}: Polydev keeps no responses (every
// answer says "store": false), so there is never one to read or delete.
func (s *Server) storedResponse(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(w, r); err != nil {
		s.gatewayError(w, r, responses.WriteError, err)
		return
	}
	s.gatewayError(w, r, responses.WriteError, polydev.Errorf(polydev.ENOTFOUND,
		"No response with id %q: Polydev does not store responses; send the whole conversation in input with store: false", r.PathValue("id")))
}
