package web

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/anthropic"
	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/router"
)

// OverheadHeader tells a client how long Polydev itself spent on its request, in microseconds: the
// wall time up to the response headers minus the time spent waiting for the provider.
const OverheadHeader = "X-Polydev-Overhead-Us"

// EphemeralHeader tells a user in ephemeral mode whether it applied to their request: "on" (served
// with their own key; nothing of it is stored) or "off; reason=platform-key" (they have no key of
// their own for the provider, so the platform's key served it and it is not ephemeral: the web
// chat stores its conversation, encrypted). Absent when the user is not in ephemeral mode.
const EphemeralHeader = "X-Polydev-Ephemeral"

// setEphemeralHeader says, once admission has chosen the keys, whether ephemeral mode applied.
func setEphemeralHeader(w http.ResponseWriter, call *router.Call) {
	switch {
	case call.Ephemeral:
		w.Header().Set(EphemeralHeader, "on")
	case call.EphemeralWaived:
		w.Header().Set(EphemeralHeader, "off; reason=platform-key")
	}
}

// surface is an inbound API shape: how requests are read and answers and errors written.
type surface struct {
	name     string
	decode   func(body []byte) (*llm.Request, openai.Options, error)
	writeErr ErrorWriter // called through s.gatewayError only, which logs the failure
	writeRes func(w http.ResponseWriter, resp *llm.Response) error
	relay    func(w http.ResponseWriter, s llm.Stream, opts openai.Options, heartbeat time.Duration) (llm.Usage, error)
}

var openaiSurface = surface{
	name: "openai", decode: openai.DecodeRequest, writeErr: openai.WriteError, writeRes: openai.WriteResponse, relay: openai.RelayHeartbeat,
}

var anthropicSurface = surface{
	name: "anthropic",
	decode: func(b []byte) (*llm.Request, openai.Options, error) {
		r, err := anthropic.DecodeRequest(b)
		return r, openai.Options{}, err
	},
	writeErr: anthropic.WriteError,
	writeRes: anthropic.WriteResponse,
	relay: func(w http.ResponseWriter, s llm.Stream, _ openai.Options, heartbeat time.Duration) (llm.Usage, error) {
		return anthropic.RelayHeartbeat(w, s, heartbeat)
	},
}

// startCall resolves the request's model (once: the call carries the route and its price to the
// usage record) and begins the call.
func (s *Server) startCall(ctx context.Context, a *admission, surface string, req *llm.Request, sessionID string) (*router.Call, error) {
	route, err := s.router.Resolve(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	call := s.router.Start(a.user, surface, route, req, a.arrival)
	call.SessionID, call.BodyBytes = sessionID, len(a.body.b)
	return call, nil
}

// serveRoute runs a decoded request on its already resolved route (the passthrough surfaces
// resolve before they know whether to translate) and writes the answer.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, sf surface, a *admission, route *router.Route, req *llm.Request, opts openai.Options) {
	call := s.router.Start(a.user, sf.name, route, req, a.arrival)
	call.BodyBytes = len(a.body.b)
	s.serveCall(w, r, sf, call, opts)
}

// serveCall runs a call and writes the answer in the surface's shape.
func (s *Server) serveCall(w http.ResponseWriter, r *http.Request, sf surface, call *router.Call, opts openai.Options) {
	ctx := r.Context()
	if call.Req.Stream {
		var st llm.Stream
		w, committed, err := s.openStream(w, call, sf.name, func() (err error) {
			st, err = call.Stream(ctx)
			return err
		})
		setEphemeralHeader(w, call)
		if err != nil {
			shape, _ := streamShape(sf.name)
			s.failOpen(w, r, call, sf, committed, shape.errorFrame, err)
			return
		}
		w.Header().Set(OverheadHeader, strconv.FormatInt(call.Overhead().Microseconds(), 10))
		usage, err := sf.relay(w, st, opts, s.cfg.StreamHeartbeat)
		_ = st.Close()
		if err != nil && ctx.Err() != nil {
			err = errors.Join(err, ctx.Err()) // the client went away: billed for what was produced
		}
		if err != nil {
			// The relay told the client in the stream (or the status, before any content); the
			// failure is logged like any other.
			s.logGatewayFailure(ctx, httpStatusOf(err), err)
		}
		call.Finish(usage, err, http.StatusOK)
		return
	}
	resp, err := call.Do(ctx)
	setEphemeralHeader(w, call)
	if err != nil {
		call.Finish(llm.Usage{}, err, httpStatusOf(err))
		s.gatewayError(w, r, sf.writeErr, err)
		return
	}
	// Do stored the usage record already: the client never holds an answer accounting lacks.
	w.Header().Set(OverheadHeader, strconv.FormatInt(call.Overhead().Microseconds(), 10))
	_ = sf.writeRes(w, resp)
}

// httpStatusOf is the status an error is answered with, for the usage record.
func httpStatusOf(err error) int {
	if e, ok := llm.AsError(err); ok {
		return e.HTTPStatus()
	}
	if st, ok := statusOf[polydev.ErrorCode(err)]; ok {
		return st.status
	}
	return http.StatusInternalServerError
}

// chatCompletions is the web UI's endpoint: the OpenAI answer shape, with provider and model given
// apart and a conversation id (sessionId) that names the conversation; a new one is returned in
// X-Polydev-Session-Id when the request has none. One decode, one route, one call: the turn is
// then stored with the route and the cost the call recorded (serveChat).
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	a, ok := s.admit(w, r, gate{limit: LimitWebChat, writeErr: openai.WriteError})
	if !ok {
		return
	}
	defer a.done()
	in, err := openai.DecodeWebChat(a.body.b)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	sessionID := strings.ToLower(in.SessionID)
	if sessionID == "" {
		sessionID = polydev.NewID()
	} else if !polydev.ValidID(sessionID) {
		s.gatewayError(w, r, openai.WriteError, polydev.Errorf(polydev.EINVALID, "sessionId must be a UUID"))
		return
	}
	w.Header().Set("X-Polydev-Session-Id", sessionID)
	call, err := s.startCall(r.Context(), a, "chat", in.Request, sessionID)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	s.serveChat(w, r, call, in.Options)
}

// listModels answers GET /v1/models in OpenAI's shape: the priced models of every provider for which
// the caller has an available key (their own or the platform's).
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	u, err := s.authenticate(w, r)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	models, err := s.router.Models(r.Context(), u)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	out := struct {
		Object string       `json:"object"`
		Data   []modelEntry `json:"data"`
	}{Object: "list", Data: []modelEntry{}}
	for _, m := range models {
		out.Data = append(out.Data, newModelEntry(m))
	}
	_ = writeJSON(w, http.StatusOK, out)
}
