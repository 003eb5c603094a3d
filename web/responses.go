package web

import (
	"net/http"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/inbound/responses"
	"github.com/polydev/polydev/gateway/llm"
)

// responsesSurface is the Responses API shape for one request: the response object echoes some of
// the request (model, sampling, tool choice), so the surface is built per request around its options.
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

// createResponse serves POST /v1/responses (Codex CLI's only API) through the canonical model, so
// any provider can answer it.
func (s *Server) createResponse(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	u, err := s.authenticate(w, r)
	if err != nil {
		responses.WriteError(w, err)
		return
	}
	body, err := s.readGatewayBody(w, r)
	if err != nil {
		responses.WriteError(w, err)
		return
	}
	req, opts, err := responses.DecodeRequest(body)
	if err != nil {
		responses.WriteError(w, err)
		return
	}
	s.serveCall(w, r, responsesSurface(&opts), u, req, openai.Options{}, arrival, "", len(body))
}

// storedResponse answers GET and DELETE /v1/responses/{id}: Polydev keeps no responses (every
// answer says "store": false), so there is never one to read or delete.
func (s *Server) storedResponse(w http.ResponseWriter, r *http.Request) {
	if _, err := s.authenticate(w, r); err != nil {
		responses.WriteError(w, err)
		return
	}
	responses.WriteError(w, polydev.Errorf(polydev.ENOTFOUND,
		"No response with id %q: Polydev does not store responses; send the whole conversation in input with store: false", r.PathValue("id")))
}
