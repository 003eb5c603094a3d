package testkit

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Google Gemini generateContent, as documented at
// https://ai.google.dev/api/generate-content: pretty-printed JSON bodies
// and errors ({"error":{"code","message","status"}}); streamGenerateContent
// with alt=sse sends `data: {...}\r\n\r\n` events (CRLF, no [DONE], JSON
// with a space after each colon), without it a JSON array. Function calls
// arrive whole; the last chunk carries finishReason and the final
// usageMetadata.

const (
	geminiModel      = "gemini-2.5-flash"
	geminiResponseID = "tkResponse00000000000001"
)

var (
	geminiJSONHeader = http.Header{"Content-Type": {"application/json; charset=UTF-8"}, "Vary": {"Origin", "X-Origin", "Referer"}}
	geminiSSEHeader  = http.Header{"Content-Type": {"text/event-stream"}, "Vary": {"Origin", "X-Origin", "Referer"}}
)

type geminiDialect struct{}

func (geminiDialect) provider() Provider { return Gemini }
func (geminiDialect) defaultKey() string { return DefaultGeminiKey }

// credential takes the x-goog-api-key header, or the ?key= parameter the
// API also accepts (tests can assert which one a client used).
func (geminiDialect) credential(r *http.Request) (string, bool) {
	if key := r.Header.Get("X-Goog-Api-Key"); key != "" {
		return key, true
	}
	if key, ok := queryParam(r.URL.RawQuery, "key"); ok && key != "" {
		return key, true
	}
	return "", false
}

// queryParam finds one query parameter without building the whole map.
func queryParam(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

var (
	geminiNoKey = geminiError(http.StatusForbidden, ErrorReply{
		Type:    "PERMISSION_DENIED",
		Message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
	})
	geminiBadKey = geminiBadKeyReply()
)

func (geminiDialect) rejectKey(_ string, present bool) *reply {
	if !present {
		return geminiNoKey
	}
	return geminiBadKey
}

// geminiBadKeyReply is the 400 a wrong key gets, google.rpc details included.
func geminiBadKeyReply() *reply {
	const msg = "API key not valid. Please pass a valid API key."
	body := indented(obj{{"error", obj{
		{"code", 400},
		{"message", msg},
		{"status", "INVALID_ARGUMENT"},
		{"details", arr{
			obj{
				{"@type", "type.googleapis.com/google.rpc.ErrorInfo"},
				{"reason", "API_KEY_INVALID"},
				{"domain", "googleapis.com"},
				{"metadata", obj{{"service", "generativelanguage.googleapis.com"}}},
			},
			obj{
				{"@type", "type.googleapis.com/google.rpc.LocalizedMessage"},
				{"locale", "en-US"},
				{"message", msg},
			},
		}},
	}}}, "  ")
	return &reply{status: http.StatusBadRequest, header: geminiJSONHeader, body: body}
}

// geminiCanonical is the status name and message Google sends for a status.
func geminiCanonical(status int) (name, message string) {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT", "Request contains an invalid argument."
	case http.StatusForbidden:
		return "PERMISSION_DENIED", "The caller does not have permission"
	case http.StatusNotFound:
		return "NOT_FOUND", "Requested entity was not found."
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."
	case http.StatusInternalServerError:
		return "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE", "The model is overloaded. Please try again later."
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."
	}
	if status >= 500 {
		return "INTERNAL", statusText(status)
	}
	return "FAILED_PRECONDITION", statusText(status)
}

// geminiStatusCode maps a google.rpc status name to its HTTP status.
func geminiStatusCode(name string) int {
	switch name {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return http.StatusBadRequest
	case "UNAUTHENTICATED":
		return http.StatusUnauthorized
	case "PERMISSION_DENIED":
		return http.StatusForbidden
	case "NOT_FOUND":
		return http.StatusNotFound
	case "RESOURCE_EXHAUSTED":
		return http.StatusTooManyRequests
	case "UNAVAILABLE":
		return http.StatusServiceUnavailable
	case "DEADLINE_EXCEEDED":
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func geminiErrorObj(status int, e ErrorReply) obj {
	name, msg := geminiCanonical(status)
	return obj{{"error", obj{{"code", status}, {"message", cmp.Or(e.Message, msg)}, {"status", cmp.Or(e.Type, name)}}}}
}

func geminiError(status int, e ErrorReply) *reply {
	body := e.Body
	if body == nil {
		body = indented(geminiErrorObj(status, e), "  ")
	}
	return &reply{status: status, header: withHeader(geminiJSONHeader, e.Header), body: body}
}

func geminiSSE(js []byte) []byte {
	out := make([]byte, 0, len(js)+len(js)/8+10)
	out = append(out, "data: "...)
	out = append(out, googleSpaced(js)...)
	return append(out, "\r\n\r\n"...)
}

func (geminiDialect) render(s Script) (*reply, error) {
	if s.Error != nil {
		return geminiError(s.Error.Status, *s.Error), nil
	}
	calls, err := prepareCalls(s.ToolCalls, "%d")
	if err != nil {
		return nil, err
	}
	r := geminiRender{
		id: cmp.Or(s.ID, geminiResponseID), model: cmp.Or(s.Model, geminiModel),
		text: s.Text, texts: s.textDeltas(), calls: calls,
		finish: s.stopReason("STOP", "STOP"), usage: s.Usage,
	}
	rep := &reply{
		status: http.StatusOK, header: geminiJSONHeader, body: r.body(),
		deltas:       countDeltas(r.texts, calls, true),
		streamHeader: [2]http.Header{geminiSSEHeader, geminiJSONHeader},
		firstByte:    s.FirstByteLatency, tokenDelay: s.TokenDelay, holdLast: s.HoldLast, stallAfter: s.StallAfterDeltas,
	}
	rep.count = r.countTokens()
	rep.streams[0] = r.stream(s, true)
	rep.streams[1] = r.stream(s, false)
	switch {
	case s.StreamError != nil:
		name := cmp.Or(s.StreamError.Type, "UNAVAILABLE")
		er := geminiError(geminiStatusCode(name), ErrorReply{Type: name, Message: s.StreamError.Message})
		rep.status, rep.header, rep.body = er.status, er.header, er.body
	case s.Malformed != nil:
		rep.body, rep.abortBody = truncated(s.Malformed, rep.body), s.Malformed.Abort
	}
	return rep, nil
}

type geminiRender struct {
	id, model string
	text      string
	texts     []string
	calls     []preparedCall
	finish    string
	usage     Usage
}

// usageMetadata renders Gemini's usage. Intermediate chunks report the
// prompt (and thoughts) so far; the final one adds candidatesTokenCount.
// candidatesTokenCount excludes thoughts; totalTokenCount includes them.
func (r geminiRender) usageMetadata(final bool) obj {
	u := r.usage
	o := obj{{"promptTokenCount", u.PromptTokens}}
	total := u.PromptTokens + u.ReasoningTokens
	if final {
		o = append(o, field{"candidatesTokenCount", u.CompletionTokens - u.ReasoningTokens})
		total = u.Total()
	}
	o = append(o, field{"totalTokenCount", total})
	if u.CachedTokens > 0 {
		o = append(o, field{"cachedContentTokenCount", u.CachedTokens})
	}
	o = append(o, field{"promptTokensDetails", arr{obj{{"modality", "TEXT"}, {"tokenCount", u.PromptTokens}}}})
	if u.CachedTokens > 0 {
		o = append(o, field{"cacheTokensDetails", arr{obj{{"modality", "TEXT"}, {"tokenCount", u.CachedTokens}}}})
	}
	if u.ReasoningTokens > 0 {
		o = append(o, field{"thoughtsTokenCount", u.ReasoningTokens})
	}
	return o
}

func (r geminiRender) response(parts arr, final bool) obj {
	cand := obj{{"content", obj{{"parts", parts}, {"role", "model"}}}}
	if final {
		cand = append(cand, field{"finishReason", r.finish})
	}
	cand = append(cand, field{"index", 0})
	return obj{
		{"candidates", arr{cand}},
		{"usageMetadata", r.usageMetadata(final)},
		{"modelVersion", r.model},
		{"responseId", r.id},
	}
}

// countTokens renders a countTokens answer: the script's prompt tokens,
// cached ones reported apart as the API does for a cachedContent.
func (r geminiRender) countTokens() []byte {
	u := r.usage
	o := obj{{"totalTokens", u.PromptTokens}}
	if u.CachedTokens > 0 {
		o = append(o, field{"cachedContentTokenCount", u.CachedTokens})
	}
	o = append(o, field{"promptTokensDetails", arr{obj{{"modality", "TEXT"}, {"tokenCount", u.PromptTokens}}}})
	return indented(o, "  ")
}

func (c preparedCall) geminiPart() obj {
	return obj{{"functionCall", obj{{"name", c.name}, {"args", c.args}}}}
}

func (r geminiRender) body() []byte {
	parts := arr{}
	if r.text != "" {
		parts = append(parts, obj{{"text", r.text}})
	}
	for _, c := range r.calls {
		parts = append(parts, c.geminiPart())
	}
	if len(parts) == 0 {
		parts = append(parts, obj{{"text", ""}})
	}
	return indented(r.response(parts, true), "  ")
}

// stream renders the chunks as SSE (alt=sse) or as the JSON array the API
// streams without it.
func (r geminiRender) stream(s Script, sse bool) []frame {
	encode := func(o obj, framesBefore int) []byte {
		if sse {
			return geminiSSE(compact(o))
		}
		js := bytes.TrimSuffix(indented(o, "  "), []byte("\n"))
		if framesBefore == 0 {
			return append([]byte("["), js...)
		}
		return append([]byte(",\r\n"), js...)
	}
	b := newStreamBuilder(s, func(e StreamError, n int) []byte {
		name := cmp.Or(e.Type, "UNAVAILABLE")
		out := encode(geminiErrorObj(geminiStatusCode(name), ErrorReply{Type: name, Message: e.Message}), n)
		if !sse {
			out = append(out, ']')
		}
		return out
	}, func(n int) []byte {
		if sse {
			return []byte("data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\r\n\r\n")
		}
		sep := ",\r\n"
		if n == 0 {
			sep = "["
		}
		return []byte(sep + `{"candidates": [{"content": {"parts": [{"text`)
	})

	var pieces []arr
	for _, t := range r.texts {
		pieces = append(pieces, arr{obj{{"text", t}}})
	}
	for _, c := range r.calls {
		pieces = append(pieces, arr{c.geminiPart()})
	}
	if len(pieces) == 0 {
		b.add(encode(r.response(arr{obj{{"text", ""}}}, true), 0), false)
	}
	for i, parts := range pieces {
		b.add(encode(r.response(parts, i == len(pieces)-1), len(b.frames)), true)
	}
	b.endContent()
	if !sse {
		b.add([]byte("]"), false)
	}
	return b.frames
}

// countTokens answers models/{model}:countTokens from the key's script or
// the default one (never the queue, which is for generations): contents or
// a generateContentRequest must be present.
func (geminiDialect) countTokens(w http.ResponseWriter, u *Upstream, rq *inbound) {
	var req struct {
		Contents present `json:"contents"`
		Request  *struct {
			Contents present `json:"contents"`
		} `json:"generateContentRequest"`
	}
	if err := json.Unmarshal(rq.body, &req); err != nil {
		write(w, geminiBadJSON(err))
		return
	}
	if !bool(req.Contents) && (req.Request == nil || !bool(req.Request.Contents)) {
		write(w, geminiNoContents)
		return
	}
	rep, ok := u.keyReply[rq.key]
	if !ok {
		rep = u.def.Load()
	}
	if rep.count == nil {
		write(w, rep)
		return
	}
	write(w, &reply{status: http.StatusOK, header: geminiJSONHeader, body: rep.count})
}

var geminiNoContents = geminiError(http.StatusBadRequest, ErrorReply{Message: "* GenerateContentRequest.contents: contents is not specified\n"})

func geminiBadJSON(err error) *reply {
	return geminiError(http.StatusBadRequest, ErrorReply{Message: fmt.Sprintf("Invalid JSON payload received. %v", err)})
}

var geminiDisplayNames = map[string]string{
	"gemini-2.5-flash":      "Gemini 2.5 Flash",
	"gemini-2.5-pro":        "Gemini 2.5 Pro",
	"gemini-2.5-flash-lite": "Gemini 2.5 Flash-Lite",
}

func (d geminiDialect) routes(u *Upstream, mux *http.ServeMux) {
	models := u.cfg.models
	if len(models) == 0 {
		models = []string{"gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"}
	}
	list := make(arr, len(models))
	for i, m := range models {
		list[i] = obj{
			{"name", "models/" + m},
			{"displayName", cmp.Or(geminiDisplayNames[m], m)},
			{"supportedGenerationMethods", arr{"generateContent", "countTokens"}},
		}
	}
	listReply := &reply{status: http.StatusOK, header: geminiJSONHeader, body: indented(obj{{"models", list}}, "  ")}

	generate := func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		if !u.authorized(rq) {
			write(w, d.rejectKey(rq.key, rq.keyPresent))
			return
		}
		model, action, _ := strings.Cut(r.PathValue("action"), ":")
		if action == "countTokens" {
			d.countTokens(w, u, rq)
			return
		}
		if action == "embedContent" || action == "batchEmbedContents" {
			u.serveGeminiEmbed(w, rq, model, action)
			return
		}
		if action != "generateContent" && action != "streamGenerateContent" {
			write(w, geminiError(http.StatusNotFound, ErrorReply{
				Message: fmt.Sprintf("models/%s is not found for API version v1beta, or is not supported for %s. Call ListModels to see the list of available models and their supported methods.", model, action),
			}))
			return
		}
		var req struct {
			Contents present `json:"contents"`
		}
		if err := json.Unmarshal(rq.body, &req); err != nil {
			write(w, geminiBadJSON(err))
			return
		}
		if !bool(req.Contents) {
			write(w, geminiNoContents)
			return
		}
		variant := 1
		if alt, _ := queryParam(r.URL.RawQuery, "alt"); alt == "sse" {
			variant = 0
		}
		u.serve(w, r, rq, u.next(rq.key), action == "streamGenerateContent", variant)
	}
	mux.HandleFunc("POST /v1beta/models/{action}", generate)
	mux.HandleFunc("POST /v1/models/{action}", generate)
	listModels := func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		if !u.authorized(rq) {
			write(w, d.rejectKey(rq.key, rq.keyPresent))
			return
		}
		write(w, listReply)
	}
	mux.HandleFunc("GET /v1beta/models", listModels)
	mux.HandleFunc("GET /v1/models", listModels)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		write(w, geminiError(http.StatusNotFound, ErrorReply{Message: "Requested entity was not found."}))
	})
}
