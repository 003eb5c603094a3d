package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/gemini"
	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/passthrough"
	pvgemini "github.com/polydev/polydev/gateway/provider/gemini"
	"github.com/polydev/polydev/gateway/router"
)

// The Gemini-native surface: POST /v1beta/models/{model}:{action} (and the same under /v1), which
// Gemini CLI and @google/genai call with the pd_ token as their API key. A ServeMux pattern cannot
// end a wildcard at a ':', so the route takes the rest of the path and splits it at its last ':'
// (a model id may hold colons itself: openai-compatible/llama3.1:8b). The model is a polydev name
// (openai/gpt-4o, which the SDKs put into the path as is) or a bare one: a bare name the price
// table knows resolves as anywhere else, any other bare name is a Gemini model.

const (
	actionGenerate = "generateContent"
	actionStream   = "streamGenerateContent"
	actionCount    = "countTokens"
)

// maxPathModel bounds the model name read from the path.
const maxPathModel = 256

func (s *Server) geminiGateway(w http.ResponseWriter, r *http.Request) {
	alt := r.URL.Query().Get("alt") == "sse"
	sf := geminiSurface(alt)
	// The path names the model, so the route and the tier's allowed models are checked before
	// the body is read.
	var (
		route  *router.Route
		action string
	)
	a, ok := s.admit(w, r, gate{
		limit: LimitGemini, writeErr: sf.writeErr,
		// The key may come in the query (?key=): it is taken out of the request before anything
		// else, so no log line, error or later reader of the URL can see it.
		auth: s.authenticateGemini,
		beforeBody: func(ctx context.Context, u *polydev.User, lim *polydev.TierLimits) error {
			model, act, err := splitModelAction(r.PathValue("rest"))
			if err != nil {
				return err
			}
			if route, err = s.geminiRoute(r, model); err != nil {
				return err
			}
			action = act
			if !lim.AllowsModel(route.Model) {
				return polydev.Errorf(polydev.EFORBIDDEN, "model %s is not available on the %s tier", route.Model, u.Tier)
			}
			return nil
		},
	})
	if !ok {
		return
	}
	defer a.done()
	// The body is released by serveRaw; other paths leave it to the collector.
	if route.Provider == geminiRaw.provider && s.router.Passthrough(route.Provider) {
		s.serveGeminiRaw(w, r, sf, a, route, action, alt)
		return
	}
	if action == actionCount {
		s.geminiCountEstimate(w, r, sf, a.body.b)
		return
	}
	req, err := gemini.DecodeRequest(a.body.b)
	if err != nil {
		s.gatewayError(w, r, sf.writeErr, err)
		return
	}
	req.Stream = action == actionStream
	s.serveRoute(w, r, sf, a, route, req, openai.Options{})
}

// geminiSurface is the Gemini shape, streaming with alt=sse framing or as a JSON array.
func geminiSurface(alt bool) surface {
	return surface{
		name:     "gemini",
		writeErr: gemini.WriteError,
		writeRes: gemini.WriteResponse,
		relay: func(w http.ResponseWriter, st llm.Stream, _ openai.Options, heartbeat time.Duration) (llm.Usage, error) {
			return gemini.RelayHeartbeat(w, st, alt, heartbeat)
		},
	}
}

// geminiRaw is the Gemini shape on the passthrough path: SSE comments as keep-alives (Google's
// SDKs read only data: lines), an error chunk for a stream that breaks off.
var geminiRaw = rawShape{
	provider: polydev.ProviderGemini,
	errorFrame: func(err error) []byte {
		b, _ := gemini.AppendError([]byte("data: "), err)
		return append(b, "\r\n\r\n"...)
	},
}

// serveGeminiRaw forwards a request for a Gemini model as written: the model is put into the URL,
// the key replaced, the answer relayed byte for byte while its usageMetadata is metered. A stream
// without alt=sse (one JSON array) is relayed whole once complete, so that its usage is durable
// before the client holds it. countTokens goes to Gemini's own and is not billed.
func (s *Server) serveGeminiRaw(w http.ResponseWriter, r *http.Request, sf surface, a *admission, route *router.Route, action string, alt bool) {
	f := passthrough.Fields{Model: route.Model}
	op := pvgemini.OpCountTokens
	if action != actionCount {
		max, err := gemini.PeekMaxOutputTokens(a.body.b)
		if err != nil {
			s.gatewayError(w, r, sf.writeErr, err)
			return
		}
		f.MaxTokens = max
		switch {
		case action == actionGenerate:
			op = pvgemini.OpGenerate
		case alt:
			op, f.Stream = pvgemini.OpStream, true
		default:
			op, f.Stream = pvgemini.OpStreamArray, true
		}
	}
	s.serveRaw(w, r, sf, geminiRaw, a, route, &f, op)
}

// authenticateGemini reads the pd_ token where Gemini clients put their API key: the
// x-goog-api-key header, or the key query parameter, which is removed from the request's URL
// whatever happens next. Without either, the usual Authorization header or cookie applies.
func (s *Server) authenticateGemini(w http.ResponseWriter, r *http.Request) (*polydev.User, error) {
	key := r.Header.Get("X-Goog-Api-Key")
	if strings.Contains(r.URL.RawQuery, "key=") {
		q := r.URL.Query()
		if key == "" {
			key = q.Get("key")
		}
		q.Del("key")
		r.URL.RawQuery = q.Encode()
		r.RequestURI = r.URL.RequestURI()
	}
	if key != "" {
		return s.authenticateToken(r, "Bearer "+key)
	}
	return s.authenticate(w, r)
}

// splitModelAction splits "openai/gpt-4o:generateContent" at its last ':'.
func splitModelAction(rest string) (model, action string, err error) {
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", "", polydev.Errorf(polydev.ENOTFOUND, "no such method: the path must end in /models/{model}:generateContent, :streamGenerateContent or :countTokens")
	}
	model, action = rest[:i], rest[i+1:]
	switch action {
	case actionGenerate, actionStream, actionCount:
	default:
		return "", "", polydev.Errorf(polydev.ENOTFOUND, "method %q is not supported here (generateContent, streamGenerateContent, countTokens)", truncateName(action))
	}
	model = strings.TrimPrefix(model, "models/")
	if model == "" || len(model) > maxPathModel {
		return "", "", polydev.Errorf(polydev.EINVALID, "model: the path must name a model of 1 to %d characters", maxPathModel)
	}
	return model, action, nil
}

func truncateName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// geminiRoute resolves a model named in the path: a bare name the price table does not know is a
// Gemini model.
func (s *Server) geminiRoute(r *http.Request, model string) (*router.Route, error) {
	if !strings.Contains(model, "/") {
		if route, err := s.router.Resolve(r.Context(), model); err == nil {
			return route, nil
		}
		model = "gemini/" + model
	}
	return s.router.Resolve(r.Context(), model)
}

// geminiCountEstimate answers countTokens for a model of another provider with an estimate
// (llm.EstimateRequestTokens, the same as count_tokens uses): the request is decoded as for generateContent, so what could not be
// sent cannot be counted either. Nothing is called upstream, so nothing is billed or counted
// against limits.
func (s *Server) geminiCountEstimate(w http.ResponseWriter, r *http.Request, sf surface, body []byte) {
	req, err := gemini.DecodeCountTokens(body)
	if err != nil {
		s.gatewayError(w, r, sf.writeErr, err)
		return
	}
	_ = gemini.WriteCountTokens(w, llm.EstimateRequestTokens(req))
}
