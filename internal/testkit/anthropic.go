package testkit

import (
	"cmp"
	"encoding/json"
	"net/http"
)

// Anthropic Messages, as documented at
// https://docs.claude.com/en/api/messages and .../messages-streaming:
// compact JSON; streams of named events (message_start, content_block_start,
// ping, content_block_delta, content_block_stop, message_delta with the
// cumulative output_tokens, message_stop) and, after a 200, possibly an
// `event: error`; error bodies {"type":"error","error":{...},"request_id"}.

const (
	anthropicModel     = "claude-sonnet-4-5-20250929"
	anthropicID        = "msg_01TestkitAnthropic000001"
	anthropicToolID    = "toolu_01Testkit%014d"
	anthropicRequestID = "req_011CTestkit0000000000001"
)

var (
	anthropicJSONHeader   = http.Header{"Content-Type": {"application/json"}, "Request-Id": {anthropicRequestID}}
	anthropicStreamHeader = http.Header{"Content-Type": {"text/event-stream; charset=utf-8"}, "Request-Id": {anthropicRequestID}, "Cache-Control": {"no-cache"}}
)

type anthropicDialect struct{}

func (anthropicDialect) provider() Provider { return Anthropic }
func (anthropicDialect) defaultKey() string { return DefaultAnthropicKey }

func (anthropicDialect) credential(r *http.Request) (string, bool) {
	key := r.Header.Get("X-Api-Key")
	return key, key != ""
}

func (anthropicDialect) rejectKey(_ string, present bool) *reply {
	if !present {
		return anthropicError(http.StatusUnauthorized, ErrorReply{Message: "x-api-key header is required"})
	}
	return anthropicError(http.StatusUnauthorized, ErrorReply{})
}

// anthropicCanonical is the error type and message Anthropic sends for a status.
func anthropicCanonical(status int) (typ, message string) {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error", "There was an issue with the format or content of your request."
	case http.StatusUnauthorized:
		return "authentication_error", "invalid x-api-key"
	case http.StatusForbidden:
		return "permission_error", "Your API key does not have permission to use the specified resource."
	case http.StatusNotFound:
		return "not_found_error", "Not Found"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large", "Request exceeds the maximum allowed number of bytes."
	case http.StatusTooManyRequests:
		return "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit (https://docs.claude.com/en/api/rate-limits); see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase."
	case http.StatusInternalServerError:
		return "api_error", "Internal server error"
	case 529:
		return "overloaded_error", "Overloaded"
	}
	if status >= 500 {
		return "api_error", statusText(status)
	}
	return "invalid_request_error", statusText(status)
}

// anthropicStatus maps an error type back to its HTTP status.
func anthropicStatus(typ string) int {
	switch typ {
	case "invalid_request_error":
		return http.StatusBadRequest
	case "authentication_error":
		return http.StatusUnauthorized
	case "permission_error":
		return http.StatusForbidden
	case "not_found_error":
		return http.StatusNotFound
	case "request_too_large":
		return http.StatusRequestEntityTooLarge
	case "rate_limit_error":
		return http.StatusTooManyRequests
	case "overloaded_error":
		return 529
	}
	return http.StatusInternalServerError
}

func anthropicErrorObj(status int, e ErrorReply) obj {
	typ, msg := anthropicCanonical(status)
	return obj{{"type", "error"}, {"error", obj{{"type", cmp.Or(e.Type, typ)}, {"message", cmp.Or(e.Message, msg)}}}}
}

func anthropicError(status int, e ErrorReply) *reply {
	body := e.Body
	if body == nil {
		body = compact(append(anthropicErrorObj(status, e), field{"request_id", anthropicRequestID}))
	}
	return &reply{status: status, header: withHeader(anthropicJSONHeader, e.Header), body: body}
}

func anthropicEvent(name string, data []byte) []byte {
	out := make([]byte, 0, len(name)+len(data)+16)
	out = append(out, "event: "...)
	out = append(out, name...)
	out = append(out, "\ndata: "...)
	out = append(out, data...)
	return append(out, "\n\n"...)
}

// anthropicPing is written as the API writes it, with a space after the colon.
var anthropicPing = anthropicEvent("ping", []byte(`{"type": "ping"}`))

func (anthropicDialect) render(s Script) (*reply, error) {
	if s.Error != nil {
		return anthropicError(s.Error.Status, *s.Error), nil
	}
	calls, err := prepareCalls(s.ToolCalls, anthropicToolID)
	if err != nil {
		return nil, err
	}
	r := anthropicRender{
		id: cmp.Or(s.ID, anthropicID), model: cmp.Or(s.Model, anthropicModel),
		text: s.Text, texts: s.textDeltas(), calls: calls,
		stop: s.stopReason("end_turn", "tool_use"), usage: s.Usage,
	}
	rep := &reply{
		status: http.StatusOK, header: anthropicJSONHeader, body: r.body(),
		deltas:       countDeltas(r.texts, calls, false),
		streamHeader: [2]http.Header{anthropicStreamHeader, nil},
		firstByte:    s.FirstByteLatency, tokenDelay: s.TokenDelay, holdLast: s.HoldLast, stallAfter: s.StallAfterDeltas,
	}
	rep.streams[0] = r.stream(s)
	switch {
	case s.StreamError != nil:
		typ := cmp.Or(s.StreamError.Type, "overloaded_error")
		er := anthropicError(anthropicStatus(typ), ErrorReply{Type: typ, Message: s.StreamError.Message})
		rep.status, rep.header, rep.body = er.status, er.header, er.body
	case s.Malformed != nil:
		rep.body, rep.abortBody = truncated(s.Malformed, rep.body), s.Malformed.Abort
	}
	return rep, nil
}

type anthropicRender struct {
	id, model string
	text      string
	texts     []string
	calls     []preparedCall
	stop      string
	usage     Usage
}

// inputUsage is Anthropic's split of the prompt: input_tokens counts only
// what was neither read from nor written to the cache.
func (r anthropicRender) inputUsage() obj {
	u := r.usage
	return obj{
		{"input_tokens", max(0, u.PromptTokens-u.CachedTokens-u.CacheWriteTokens)},
		{"cache_creation_input_tokens", u.CacheWriteTokens},
		{"cache_read_input_tokens", u.CachedTokens},
	}
}

// serverToolUse is the usage member counting server tool requests, when there were any.
func (r anthropicRender) serverToolUse() obj {
	if r.usage.WebSearches == 0 {
		return nil
	}
	return obj{{"server_tool_use", obj{{"web_search_requests", r.usage.WebSearches}, {"web_fetch_requests", 0}}}}
}

func (r anthropicRender) body() []byte {
	content := arr{}
	if r.text != "" {
		content = append(content, obj{{"type", "text"}, {"text", r.text}})
	}
	for _, c := range r.calls {
		content = append(content, obj{{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", c.args}})
	}
	usage := append(r.inputUsage(), field{"output_tokens", r.usage.CompletionTokens}, field{"service_tier", "standard"})
	usage = append(usage, r.serverToolUse()...)
	return compact(obj{
		{"id", r.id},
		{"type", "message"},
		{"role", "assistant"},
		{"model", r.model},
		{"content", content},
		{"stop_reason", r.stop},
		{"stop_sequence", nil},
		{"usage", usage},
	})
}

func (r anthropicRender) stream(s Script) []frame {
	b := newStreamBuilder(s, func(e StreamError, _ int) []byte {
		typ := cmp.Or(e.Type, "overloaded_error")
		return anthropicEvent("error", compact(anthropicErrorObj(anthropicStatus(typ), ErrorReply{Type: typ, Message: e.Message})))
	}, func(int) []byte {
		return anthropicEvent("content_block_delta", []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"`))
	})
	ev := func(name string, o obj) []byte { return anthropicEvent(name, compact(o)) }

	// message_start reports the input side in full and a first output count;
	// message_delta later carries the cumulative output_tokens.
	startUsage := append(r.inputUsage(), field{"output_tokens", min(1, r.usage.CompletionTokens)}, field{"service_tier", "standard"})
	b.add(ev("message_start", obj{{"type", "message_start"}, {"message", obj{
		{"id", r.id}, {"type", "message"}, {"role", "assistant"}, {"model", r.model},
		{"content", arr{}}, {"stop_reason", nil}, {"stop_sequence", nil}, {"usage", startUsage},
	}}}), false)
	if s.StreamError != nil && s.StreamError.BeforeContent {
		b.interrupt()
	}

	index := 0
	startBlock := func(block obj) {
		b.add(ev("content_block_start", obj{{"type", "content_block_start"}, {"index", index}, {"content_block", block}}), false)
		if index == 0 {
			b.add(anthropicPing, false)
		}
	}
	stopBlock := func() {
		b.add(ev("content_block_stop", obj{{"type", "content_block_stop"}, {"index", index}}), false)
		index++
	}
	delta := func(d obj, counts bool) {
		b.add(ev("content_block_delta", obj{{"type", "content_block_delta"}, {"index", index}, {"delta", d}}), counts)
	}

	if len(r.texts) > 0 || len(r.calls) == 0 {
		startBlock(obj{{"type", "text"}, {"text", ""}})
		for _, t := range r.texts {
			delta(obj{{"type", "text_delta"}, {"text", t}}, true)
		}
		stopBlock()
	}
	for _, c := range r.calls {
		startBlock(obj{{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", obj{}}})
		delta(obj{{"type", "input_json_delta"}, {"partial_json", ""}}, false)
		for _, f := range c.frags {
			delta(obj{{"type", "input_json_delta"}, {"partial_json", f}}, true)
		}
		stopBlock()
	}
	b.endContent()
	b.add(ev("message_delta", obj{
		{"type", "message_delta"},
		{"delta", obj{{"stop_reason", r.stop}, {"stop_sequence", nil}}},
		{"usage", append(obj{{"output_tokens", r.usage.CompletionTokens}}, r.serverToolUse()...)},
	}), false)
	b.add(ev("message_stop", obj{{"type", "message_stop"}}), false)
	return b.frames
}

var (
	anthropicNoVersion   = anthropicError(http.StatusBadRequest, ErrorReply{Message: "anthropic-version: header is required"})
	anthropicBadJSON     = anthropicError(http.StatusBadRequest, ErrorReply{Message: "Request body is not valid JSON."})
	anthropicNoModel     = anthropicError(http.StatusBadRequest, ErrorReply{Message: "model: Field required"})
	anthropicNoMaxTokens = anthropicError(http.StatusBadRequest, ErrorReply{Message: "max_tokens: Field required"})
	anthropicNoMessages  = anthropicError(http.StatusBadRequest, ErrorReply{Message: "messages: Field required"})
)

var anthropicDisplayNames = map[string]string{
	"claude-sonnet-4-5-20250929": "Claude Sonnet 4.5",
	"claude-haiku-4-5-20251001":  "Claude Haiku 4.5",
	"claude-opus-4-1-20250805":   "Claude Opus 4.1",
}

func (d anthropicDialect) routes(u *Upstream, mux *http.ServeMux) {
	models := u.cfg.models
	if len(models) == 0 {
		models = []string{"claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805"}
	}
	list := make(arr, len(models))
	for i, m := range models {
		list[i] = obj{{"type", "model"}, {"id", m}, {"display_name", cmp.Or(anthropicDisplayNames[m], m)}, {"created_at", "2025-09-29T00:00:00Z"}}
	}
	listReply := &reply{status: http.StatusOK, header: anthropicJSONHeader, body: compact(obj{
		{"data", list}, {"has_more", false}, {"first_id", models[0]}, {"last_id", models[len(models)-1]},
	})}

	mux.HandleFunc("POST /v1/messages", func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		if !u.authorized(rq) {
			write(w, d.rejectKey(rq.key, rq.keyPresent))
			return
		}
		var req struct {
			Model     string  `json:"model"`
			MaxTokens present `json:"max_tokens"`
			Messages  present `json:"messages"`
			Stream    bool    `json:"stream"`
		}
		switch {
		case r.Header.Get("Anthropic-Version") == "":
			write(w, anthropicNoVersion)
		case json.Unmarshal(rq.body, &req) != nil:
			write(w, anthropicBadJSON)
		case req.Model == "":
			write(w, anthropicNoModel)
		case !bool(req.MaxTokens):
			write(w, anthropicNoMaxTokens)
		case !bool(req.Messages):
			write(w, anthropicNoMessages)
		default:
			u.serve(w, r, rq, u.next(rq.key), req.Stream, 0)
		}
	})
	// count_tokens (https://docs.claude.com/en/api/messages-count-tokens): the Messages body
	// without max_tokens, answered {"input_tokens":N}. The fake's count is deterministic:
	// CountTokens(body), a quarter of the body's bytes rounded up.
	mux.HandleFunc("POST /v1/messages/count_tokens", func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		if !u.authorized(rq) {
			write(w, d.rejectKey(rq.key, rq.keyPresent))
			return
		}
		var req struct {
			Model    string  `json:"model"`
			Messages present `json:"messages"`
		}
		switch {
		case r.Header.Get("Anthropic-Version") == "":
			write(w, anthropicNoVersion)
		case json.Unmarshal(rq.body, &req) != nil:
			write(w, anthropicBadJSON)
		case req.Model == "":
			write(w, anthropicNoModel)
		case !bool(req.Messages):
			write(w, anthropicNoMessages)
		default:
			write(w, &reply{status: http.StatusOK, header: anthropicJSONHeader, body: compact(obj{{"input_tokens", CountTokens(rq.body)}})})
		}
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		if !u.authorized(rq) {
			write(w, d.rejectKey(rq.key, rq.keyPresent))
			return
		}
		write(w, listReply)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rq := u.begin(r)
		defer u.end(rq)
		write(w, anthropicError(http.StatusNotFound, ErrorReply{}))
	})
}

// CountTokens is the fake Anthropic's answer to count_tokens for body.
func CountTokens(body []byte) int { return (len(body) + 3) / 4 }
