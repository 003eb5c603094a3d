package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/llm"
)

// embeddings answers POST /v1/embeddings in OpenAI's shape, for openai/, openai-compatible/ and
// gemini/ embedding models (Anthropic has none: a 400 says so). Tier, allowed models, keys,
// limits and the usage record are those of every gateway call (router.Call); the input tokens
// are the upstream's count (estimated, and flagged so, where Gemini gives none).
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	u, err := s.authenticate(w, r)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	body, err := s.readGatewayBody(w, r)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	req, opts, err := openai.DecodeEmbeddings(body)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	route, err := s.router.Resolve(r.Context(), req.Model)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	call := s.router.StartEmbed(u, route, req, arrival)
	call.BodyBytes = len(body)
	resp, err := call.Embed(r.Context())
	if err != nil {
		call.Finish(llm.Usage{}, err, httpStatusOf(err))
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	if resp.Model == "" {
		resp.Model = route.Upstream
	}
	w.Header().Set(OverheadHeader, strconv.FormatInt(call.Overhead().Microseconds(), 10))
	_ = openai.WriteEmbeddings(w, resp, opts)
}
