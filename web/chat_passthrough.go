package web

import (
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/passthrough"
	pvopenai "github.com/polydev/polydev/gateway/provider/openai"
	"github.com/polydev/polydev/gateway/sse"
)

// openaiRaw: an SSE comment as the keep-alive (OpenAI's SDKs skip comments), OpenAI's in-stream
// error chunk for a stream that breaks off, and no upstream headers (its request id and rate-limit
// headers describe the platform's account, not the client's).
var openaiRaw = rawShape{
	provider:       polydev.ProviderOpenAI,
	maxTokensField: "max_completion_tokens",
	errorFrame: func(err error) []byte {
		return sse.AppendEvent(nil, "", openai.AppendError(nil, err))
	},
}

// chatCompletionsV1 serves POST /v1/chat/completions: forwarded as written when the model is
// OpenAI's or an OpenAI-compatible server's (every field reaches it: logprobs, n, seed, ...),
// translated through the canonical model otherwise.
func (s *Server) chatCompletionsV1(w http.ResponseWriter, r *http.Request) {
	sf := openaiSurface
	a, f, route, ok := s.peekRoute(w, r, sf, LimitChatCompletions, openaiRaw.maxTokensField)
	if !ok {
		return
	}
	defer a.done()
	if (route.Provider == polydev.ProviderOpenAI || route.Provider == polydev.ProviderOpenAICompatible) && s.router.Passthrough(route.Provider) {
		if f.MaxTokens == 0 {
			// The older cap name, which compatible servers and many clients still write.
			old, err := passthrough.Peek(a.body.b, "max_tokens")
			if err != nil {
				s.gatewayError(w, r, sf.writeErr, err)
				return
			}
			f.MaxTokens = old.MaxTokens
		}
		shape := openaiRaw
		shape.provider = route.Provider
		s.serveRaw(w, r, sf, shape, a, route, &f, pvopenai.OpChat)
		return
	}
	req, opts, err := sf.decode(a.body.b)
	if err != nil {
		s.gatewayError(w, r, sf.writeErr, err)
		return
	}
	s.serveRoute(w, r, sf, a, route, req, opts)
}
