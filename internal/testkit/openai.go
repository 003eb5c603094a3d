package testkit

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// OpenAI Chat Completions, as documented at
// https://platform.openai.com/docs/api-reference/chat: pretty-printed JSON
// bodies (errors with a four-space indent), compact `data: {...}\n\n`
// chunks ending with `data: [DONE]`, and, with
// stream_options.include_usage, a last chunk with empty choices carrying the
// usage while every other chunk has "usage":null.

const (
	openaiModel       = "gpt-4o-mini-2024-07-18"
	openaiID          = "chatcmpl-testkit0000000000000000000001"
	openaiCreated     = 1735689600
	openaiFingerprint = "fp_testkit01"
	openaiCallID      = "call_testkit%04d"
)

var (
	openaiJSONHeader   = http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req_testkit0001"}, "Openai-Version": {"2020-10-01"}}
	openaiStreamHeader = http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}, "X-Request-Id": {"req_testkit0001"}, "Openai-Version": {"2020-10-01"}, "Cache-Control": {"no-cache"}}
)

type openaiDialect struct{}

func (openaiDialect) provider() Provider { return OpenAI }
func (openaiDialect) defaultKey() string { return DefaultOpenAIKey }

func (openaiDialect) credential(r *http.Request) (string, bool) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	key = strings.TrimSpace(key)
	return key, ok && key != ""
}

func (openaiDialect) rejectKey(key string, present bool) *reply {
	if !present {
		return openaiError(http.StatusUnauthorized, ErrorReply{
			Type:    "invalid_request_error",
			Message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
		}, nil, nil)
	}
	return openaiError(http.StatusUnauthorized, ErrorReply{
		Type:    "invalid_request_error",
		Message: fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", maskKey(key)),
	}, nil, "invalid_api_key")
}

// maskKey hides a key the way OpenAI's 401 message does: short keys are
// echoed, longer ones keep their first 8 and last 4 characters.
func maskKey(key string) string {
	if len(key) <= 12 {
		return key
	}
	return key[:8] + strings.Repeat("*", len(key)-12) + key[len(key)-4:]
}

// openaiCanonical is the error type, code and message OpenAI sends for a status.
func openaiCanonical(status int) (typ string, code any, message string) {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error", nil, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"
	case http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-wrong. You can find your API key at https://platform.openai.com/account/api-keys."
	case http.StatusNotFound:
		return "invalid_request_error", "model_not_found", "The model `gpt-4o-mini` does not exist or you do not have access to it."
	case http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded", "Rate limit reached for gpt-4o-mini in organization org-testkit on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms. Visit https://platform.openai.com/account/rate-limits to learn more."
	case http.StatusInternalServerError:
		return "server_error", nil, "The server had an error while processing your request. Sorry about that!"
	case http.StatusServiceUnavailable:
		return "server_error", nil, "The engine is currently overloaded, please try again later."
	}
	if status >= 500 {
		return "server_error", nil, statusText(status)
	}
	return "invalid_request_error", nil, statusText(status)
}

// openaiError renders {"error":{"message","type","param","code"}}. A nil
// code takes the canonical one unless e overrides the type or message.
func openaiError(status int, e ErrorReply, param, code any) *reply {
	body := e.Body
	if body == nil {
		body = indented(openaiErrorObj(status, e, param, code), "    ")
	}
	return &reply{status: status, header: withHeader(openaiJSONHeader, e.Header), body: body}
}

func openaiErrorObj(status int, e ErrorReply, param, code any) obj {
	typ, canonCode, msg := openaiCanonical(status)
	if code == nil && e.Type == "" && e.Message == "" {
		code = canonCode
	}
	return obj{{"error", obj{
		{"message", cmp.Or(e.Message, msg)},
		{"type", cmp.Or(e.Type, typ)},
		{"param", param},
		{"code", code},
	}}}
}

// openaiStreamErrorStatus maps an in-stream error type to the HTTP status a
// non-streaming request gets instead.
func openaiStreamErrorStatus(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "requests", "tokens", "insufficient_quota":
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

func (d openaiDialect) render(s Script) (*reply, error) {
	if s.Error != nil {
		return openaiError(s.Error.Status, *s.Error, nil, nil), nil
	}
	calls, err := prepareCalls(s.ToolCalls, openaiCallID)
	if err != nil {
		return nil, err
	}
	r := openaiRender{
		id: cmp.Or(s.ID, openaiID), model: cmp.Or(s.Model, openaiModel),
		texts: s.textDeltas(), calls: calls, finish: s.stopReason("stop", "tool_calls"), usage: openaiUsage(s.Usage),
	}
	rep := &reply{
		status: http.StatusOK, header: openaiJSONHeader, body: r.body(s.Text),
		deltas:       countDeltas(r.texts, calls, false),
		streamHeader: [2]http.Header{openaiStreamHeader, openaiStreamHeader},
		firstByte:    s.FirstByteLatency, tokenDelay: s.TokenDelay, holdLast: s.HoldLast, stallAfter: s.StallAfterDeltas,
	}
	rep.streams[0] = r.stream(s, false)
	rep.streams[1] = r.stream(s, true)
	switch {
	case s.StreamError != nil:
		e := *s.StreamError
		e.Type = cmp.Or(e.Type, "server_error")
		status := openaiStreamErrorStatus(e.Type)
		er := openaiError(status, ErrorReply{Type: e.Type, Message: e.Message}, nil, nil)
		rep.status, rep.header, rep.body = er.status, er.header, er.body
	case s.Malformed != nil:
		rep.body, rep.abortBody = truncated(s.Malformed, rep.body), s.Malformed.Abort
	}
	rep.responses = renderResponses(s, calls, rep)
	return rep, nil
}

type openaiRender struct {
	id, model string
	texts     []string
	calls     []preparedCall
	finish    string
	usage     obj
}

func openaiUsage(u Usage) obj {
	return obj{
		{"prompt_tokens", u.PromptTokens},
		{"completion_tokens", u.CompletionTokens},
		{"total_tokens", u.Total()},
		{"prompt_tokens_details", obj{{"cached_tokens", u.CachedTokens}, {"audio_tokens", 0}}},
		{"completion_tokens_details", obj{
			{"reasoning_tokens", u.ReasoningTokens},
			{"audio_tokens", 0},
			{"accepted_prediction_tokens", 0},
			{"rejected_prediction_tokens", 0},
		}},
	}
}

func (r openaiRender) body(text string) []byte {
	var content any
	if text != "" || len(r.calls) == 0 {
		content = text
	}
	msg := obj{{"role", "assistant"}, {"content", content}}
	if len(r.calls) > 0 {
		calls := make(arr, len(r.calls))
		for i, c := range r.calls {
			calls[i] = obj{{"id", c.id}, {"type", "function"}, {"function", obj{{"name", c.name}, {"arguments", string(c.args)}}}}
		}
		msg = append(msg, field{"tool_calls", calls})
	}
	msg = append(msg, field{"refusal", nil}, field{"annotations", arr{}})
	return indented(obj{
		{"id", r.id},
		{"object", "chat.completion"},
		{"created", openaiCreated},
		{"model", r.model},
		{"choices", arr{obj{{"index", 0}, {"message", msg}, {"logprobs", nil}, {"finish_reason", r.finish}}}},
		{"usage", r.usage},
		{"service_tier", "default"},
		{"system_fingerprint", openaiFingerprint},
	}, "  ")
}

func (r openaiRender) chunk(choices arr, usage any, withUsage bool) []byte {
	o := obj{
		{"id", r.id},
		{"object", "chat.completion.chunk"},
		{"created", openaiCreated},
		{"model", r.model},
		{"service_tier", "default"},
		{"system_fingerprint", openaiFingerprint},
		{"choices", choices},
	}
	if withUsage {
		o = append(o, field{"usage", usage})
	}
	return openaiData(compact(o))
}

func openaiData(js []byte) []byte {
	out := make([]byte, 0, len(js)+8)
	out = append(out, "data: "...)
	out = append(out, js...)
	return append(out, "\n\n"...)
}

func openaiChoice(delta obj, finish any) arr {
	return arr{obj{{"index", 0}, {"delta", delta}, {"logprobs", nil}, {"finish_reason", finish}}}
}

func (c preparedCall) openaiHeader(i int) obj {
	return obj{{"index", i}, {"id", c.id}, {"type", "function"}, {"function", obj{{"name", c.name}, {"arguments", ""}}}}
}

func (r openaiRender) stream(s Script, withUsage bool) []frame {
	b := newStreamBuilder(s, func(e StreamError, _ int) []byte {
		typ := cmp.Or(e.Type, "server_error")
		return openaiData(compact(openaiErrorObj(openaiStreamErrorStatus(typ), ErrorReply{Type: typ, Message: e.Message}, nil, nil)))
	}, func(int) []byte {
		return []byte(`data: {"id":"` + r.id + `","object":"chat.completion.chunk","created":` + fmt.Sprint(openaiCreated) + `,"choices":[{"index":0,"delta":{"content":"` + "\n\n")
	})
	// The first chunk carries the role; a pure tool-call answer starts with
	// the first call's header instead of empty content.
	headerInRole := len(r.texts) == 0 && len(r.calls) > 0
	if headerInRole {
		b.add(r.chunk(openaiChoice(obj{{"role", "assistant"}, {"content", nil}, {"tool_calls", arr{r.calls[0].openaiHeader(0)}}, {"refusal", nil}}, nil), nil, withUsage), false)
	} else {
		b.add(r.chunk(openaiChoice(obj{{"role", "assistant"}, {"content", ""}, {"refusal", nil}}, nil), nil, withUsage), false)
	}
	for _, t := range r.texts {
		b.add(r.chunk(openaiChoice(obj{{"content", t}}, nil), nil, withUsage), true)
	}
	for i, c := range r.calls {
		if i > 0 || !headerInRole {
			b.add(r.chunk(openaiChoice(obj{{"tool_calls", arr{c.openaiHeader(i)}}}, nil), nil, withUsage), false)
		}
		for _, f := range c.frags {
			b.add(r.chunk(openaiChoice(obj{{"tool_calls", arr{obj{{"index", i}, {"function", obj{{"arguments", f}}}}}}}, nil), nil, withUsage), true)
		}
	}
	b.endContent()
	b.add(r.chunk(openaiChoice(obj{}, r.finish), nil, withUsage), false)
	if withUsage {
		b.add(r.chunk(arr{}, r.usage, true), false)
	}
	b.add([]byte("data: [DONE]\n\n"), false)
	return b.frames
}

// present records that a JSON field was there without copying its value.
type present bool

func (p *present) UnmarshalJSON([]byte) error { *p = true; return nil }

var (
	openaiBadJSON    = openaiError(http.StatusBadRequest, ErrorReply{}, nil, nil)
	openaiNoModel    = openaiError(http.StatusBadRequest, ErrorReply{Message: "you must provide a model parameter"}, nil, nil)
	openaiNoMessages = openaiError(http.StatusBadRequest, ErrorReply{Message: "Missing required parameter: 'messages'."}, "messages", "missing_required_parameter")
)

func openaiModelObject(id string) obj {
	return obj{{"id", id}, {"object", "model"}, {"created", openaiCreated}, {"owned_by", "system"}}
}

func (d openaiDialect) routes(u *Upstream, mux *http.ServeMux) {
	models := u.cfg.models
	if len(models) == 0 {
		models = []string{"gpt-4o-mini", "gpt-4o", "o3-mini"}
	}
	list := make(arr, len(models))
	known := map[string]*reply{}
	for i, m := range models {
		list[i] = openaiModelObject(m)
		known[m] = &reply{status: http.StatusOK, header: openaiJSONHeader, body: indented(openaiModelObject(m), "  ")}
	}
	listReply := &reply{status: http.StatusOK, header: openaiJSONHeader, body: indented(obj{{"object", "list"}, {"data", list}}, "  ")}

	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		if !u.authorized(rq) {
			write(w, d.rejectKey(rq.key, rq.keyPresent))
			return
		}
		var req struct {
			Model         string  `json:"model"`
			Messages      present `json:"messages"`
			Stream        bool    `json:"stream"`
			StreamOptions *struct {
				IncludeUsage bool `json:"include_usage"`
			} `json:"stream_options"`
		}
		switch {
		case json.Unmarshal(rq.body, &req) != nil:
			write(w, openaiBadJSON)
		case req.Model == "":
			write(w, openaiNoModel)
		case !bool(req.Messages):
			write(w, openaiNoMessages)
		default:
			variant := 0
			if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
				variant = 1
			}
			u.serve(w, r, rq, u.next(rq.key), req.Stream, variant)
		}
	})
	mux.HandleFunc("POST /v1/responses", func(w http.ResponseWriter, r *http.Request) { d.serveResponses(u, w, r) })
	mux.HandleFunc("POST /v1/embeddings", func(w http.ResponseWriter, r *http.Request) { d.serveEmbeddings(u, w, r) })
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		if !u.authorized(rq) {
			write(w, d.rejectKey(rq.key, rq.keyPresent))
			return
		}
		write(w, listReply)
	})
	mux.HandleFunc("GET /v1/models/{model}", func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		if !u.authorized(rq) {
			write(w, d.rejectKey(rq.key, rq.keyPresent))
			return
		}
		if rep, ok := known[r.PathValue("model")]; ok {
			write(w, rep)
			return
		}
		write(w, openaiError(http.StatusNotFound, ErrorReply{
			Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", r.PathValue("model")),
		}, nil, "model_not_found"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		write(w, openaiError(http.StatusNotFound, ErrorReply{
			Type:    "invalid_request_error",
			Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path),
		}, nil, nil))
	})
}
