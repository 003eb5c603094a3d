package web

import (
	"net/http"
	"strconv"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/llm"
	pvopenai "github.com/polydev/polydev/gateway/provider/openai"
)

// embeddings answers POST /v1/embeddings in OpenAI's shape, for openai/, openai-compatible/ and
// gemini/ embedding models (Anthropic has none: a 400 says so). Tier, allowed models, keys,
// limits and the usage record are those of every gateway call (router.Call); the input tokens
// are the upstream's count (estimated, and flagged so, where Gemini gives none). An OpenAI or
// OpenAI-compatible model gets the client's body as written (passthrough: only the model
// rewritten; encoding_format, dimensions and any newer field reach it), and its answer byte for
// byte; Gemini's are translated.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	sf := openaiSurface
	a, f, route, ok := s.peekRoute(w, r, sf, LimitEmbeddings, "")
	if !ok {
		return
	}
	defer a.done()
	body := a.body
	if (route.Provider == polydev.ProviderOpenAI || route.Provider == polydev.ProviderOpenAICompatible) && s.router.Passthrough(route.Provider) {
		f.Stream, f.MaxTokens = false, 0 // nothing is generated: no output is reserved
		call := s.router.StartEmbed(a.user, route, &llm.EmbedRequest{}, a.arrival)
		shape := openaiRaw
		shape.provider = route.Provider
		s.relayCall(w, r, sf, shape, call, &f, pvopenai.OpEmbeddings, body)
		return
	}
	defer body.Release()
	req, opts, err := openai.DecodeEmbeddings(body.b)
	if err != nil {
		s.gatewayError(w, r, openai.WriteError, err)
		return
	}
	call := s.router.StartEmbed(a.user, route, req, a.arrival)
	call.BodyBytes = len(body.b)
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
