package web

import (
	"encoding/json"
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

// surface is an inbound API shape: how requests are read and answers and errors written.
type surface struct {
	name     string
	decode   func(body []byte) (*llm.Request, openai.Options, error)
	writeErr func(w http.ResponseWriter, err error)
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

// gateway serves one inbound surface. Errors are written in that surface's own shape, so OpenAI and
// Anthropic clients both understand them.
func (s *Server) gateway(sf surface) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		arrival := time.Now()
		u, err := s.authenticate(w, r)
		if err != nil {
			sf.writeErr(w, err)
			return
		}
		body, err := s.readGatewayBody(w, r)
		if err != nil {
			sf.writeErr(w, err)
			return
		}
		req, opts, err := sf.decode(body)
		if err != nil {
			sf.writeErr(w, err)
			return
		}
		s.serveCall(w, r, sf, u, req, opts, arrival, "", len(body))
	}
}

// serveCall routes a decoded request and writes the answer.
func (s *Server) serveCall(w http.ResponseWriter, r *http.Request, sf surface, u *polydev.User, req *llm.Request, opts openai.Options, arrival time.Time, sessionID string, bodyBytes int) {
	route, err := s.router.Resolve(r.Context(), req.Model)
	if err != nil {
		sf.writeErr(w, err)
		return
	}
	s.serveRoute(w, r, sf, u, route, req, opts, arrival, sessionID, bodyBytes)
}

// serveRoute runs a decoded request on its resolved route and writes the answer.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, sf surface, u *polydev.User, route *router.Route, req *llm.Request, opts openai.Options, arrival time.Time, sessionID string, bodyBytes int) {
	ctx := r.Context()
	call := s.router.Start(u, sf.name, route, req, arrival)
	call.SessionID, call.BodyBytes = sessionID, bodyBytes
	if req.Stream {
		st, err := call.Stream(ctx)
		if err != nil {
			call.Finish(llm.Usage{}, err, httpStatusOf(err))
			sf.writeErr(w, err)
			return
		}
		w.Header().Set(OverheadHeader, strconv.FormatInt(call.Overhead().Microseconds(), 10))
		usage, err := sf.relay(w, st, opts, s.cfg.StreamHeartbeat)
		_ = st.Close()
		if err != nil && ctx.Err() != nil {
			err = errors.Join(err, ctx.Err()) // the client went away: billed for what was produced
		}
		call.Finish(usage, err, http.StatusOK)
		return
	}
	resp, err := call.Do(ctx)
	if err != nil {
		call.Finish(llm.Usage{}, err, httpStatusOf(err))
		sf.writeErr(w, err)
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

// readGatewayBody reads a generation request within the gateway's body limit (larger than the API's:
// prompts carry images and long documents).
func (s *Server) readGatewayBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := readAllSized(http.MaxBytesReader(w, r.Body, s.cfg.MaxGatewayBodyBytes), r.ContentLength)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, polydev.Errorf(polydev.ETOOLARGE, "request body is larger than %d bytes", s.cfg.MaxGatewayBodyBytes)
		}
		return nil, polydev.Wrap(polydev.EINVALID, err, "request body could not be read")
	}
	return body, nil
}

// chatRequest is the seed's POST /api/chat/completions body.
type chatRequest struct {
	Provider  string          `json:"provider"`
	Model     string          `json:"model"`
	Messages  json.RawMessage `json:"messages"`
	Stream    bool            `json:"stream"`
	SessionID string          `json:"sessionId"`
	MaxTokens *int            `json:"max_tokens,omitempty"`
	Temp      *float64        `json:"temperature,omitempty"`
}

// chatCompletions is the web UI's endpoint: the OpenAI answer shape, with provider and model given
// apart and a conversation id (sessionId) that names the conversation; a new one is returned in
// X-Polydev-Session-Id when the request has none.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	u, err := s.authenticate(w, r)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	body, err := s.readGatewayBody(w, r)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	var in chatRequest
	if err := json.Unmarshal(body, &in); err != nil {
		openai.WriteError(w, jsonError(err, s.cfg.MaxGatewayBodyBytes))
		return
	}
	model := in.Model
	if in.Provider != "" && !strings.HasPrefix(model, in.Provider+"/") {
		model = in.Provider + "/" + model
	}
	if in.SessionID == "" {
		in.SessionID = polydev.NewID()
	} else if !polydev.ValidID(strings.ToLower(in.SessionID)) {
		openai.WriteError(w, polydev.Errorf(polydev.EINVALID, "sessionId must be a UUID"))
		return
	}
	in.SessionID = strings.ToLower(in.SessionID)
	oai, _ := json.Marshal(map[string]any{
		"model": model, "messages": in.Messages, "stream": in.Stream, "max_tokens": in.MaxTokens, "temperature": in.Temp,
		"stream_options": map[string]bool{"include_usage": true},
	})
	if !in.Stream {
		oai, _ = json.Marshal(map[string]any{"model": model, "messages": in.Messages, "max_tokens": in.MaxTokens, "temperature": in.Temp})
	}
	req, opts, err := openai.DecodeRequest(oai)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	w.Header().Set("X-Polydev-Session-Id", in.SessionID)
	// serveChat supplies the chat surface (which watches the answer go out) and then stores the turn,
	// or only its metadata in ephemeral mode (web/chatstore.go).
	s.serveChat(w, r, u, req, in.SessionID, model, func(sf surface) {
		s.serveCall(w, r, sf, u, req, opts, arrival, in.SessionID, len(body))
	})
}

// listModels answers GET /v1/models in OpenAI's shape: the priced models of every provider for which
// the caller has an available key (their own or the platform's).
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	u, err := s.authenticate(w, r)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	models, err := s.router.Models(r.Context(), u)
	if err != nil {
		openai.WriteError(w, err)
		return
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, m := range models {
		prov, _, _ := polydev.SplitModel(m.Model)
		out.Data = append(out.Data, model{ID: m.Model, Object: "model", Created: m.UpdatedAt.Unix(), OwnedBy: string(prov)})
	}
	_ = writeJSON(w, http.StatusOK, out)
}
