package responses

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/internal/jsonw"
	"github.com/polydev/polydev/gateway/llm"
)

// Response statuses and why a response is incomplete.
const (
	statusCompleted  = "completed"
	statusIncomplete = "incomplete"
	statusInProgress = "in_progress"
	statusFailed     = "failed"
)

// outcome is how a stop reason ends a response: max_tokens and content_filter make it
// "incomplete" with the reason OpenAI gives; everything else "completed".
func outcome(r llm.StopReason) (status, reason string) {
	switch r {
	case llm.StopMaxTokens:
		return statusIncomplete, "max_output_tokens"
	case llm.StopContentFilter:
		return statusIncomplete, "content_filter"
	}
	return statusCompleted, ""
}

// appendUsage appends the Responses usage object: input_tokens include cache reads and writes
// (no field of their own for writes), output_tokens include reasoning.
func appendUsage(b []byte, u llm.Usage) []byte {
	b = append(b, `{"input_tokens":`...)
	b = jsonw.Int(b, u.InputTokens)
	b = append(b, `,"input_tokens_details":{"cached_tokens":`...)
	b = jsonw.Int(b, u.CacheReadTokens)
	b = append(b, `},"output_tokens":`...)
	b = jsonw.Int(b, u.OutputTokens)
	b = append(b, `,"output_tokens_details":{"reasoning_tokens":`...)
	b = jsonw.Int(b, u.ReasoningTokens)
	b = append(b, `},"total_tokens":`...)
	b = jsonw.Int(b, u.TotalTokens())
	return append(b, '}')
}

// appendTextPart appends an output_text content part.
func appendTextPart(b []byte, text string) []byte {
	b = append(b, `{"type":"output_text","annotations":[],"logprobs":[],"text":`...)
	b = jsonw.String(b, text)
	return append(b, '}')
}

// appendMessage appends an assistant message item; a message in progress has no content yet.
func appendMessage(b []byte, id, status, text string, withText bool) []byte {
	b = append(b, `{"id":`...)
	b = jsonw.String(b, id)
	b = append(b, `,"type":"message","status":`...)
	b = jsonw.String(b, status)
	b = append(b, `,"content":[`...)
	if withText {
		b = appendTextPart(b, text)
	}
	return append(b, `],"role":"assistant"}`...)
}

// appendCall appends a function_call item, or a custom_tool_call item for a freeform tool, whose
// input is the one string argument the model was given; a tool declared in a namespace is named
// as the client declared it, with its namespace.
func appendCall(b []byte, id, status, callID string, ref ToolRef, args []byte) []byte {
	b = append(b, `{"id":`...)
	b = jsonw.String(b, id)
	if ref.Custom {
		b = append(b, `,"type":"custom_tool_call","status":`...)
		b = jsonw.String(b, status)
		b = append(b, `,"call_id":`...)
		b = jsonw.String(b, callID)
		b = append(b, `,"input":`...)
		b = jsonw.String(b, customInput(args))
	} else {
		b = append(b, `,"type":"function_call","status":`...)
		b = jsonw.String(b, status)
		b = append(b, `,"arguments":`...)
		b = jsonw.String(b, string(args))
		b = append(b, `,"call_id":`...)
		b = jsonw.String(b, callID)
	}
	b = append(b, `,"name":`...)
	b = jsonw.String(b, ref.Name)
	if ref.Namespace != "" {
		b = append(b, `,"namespace":`...)
		b = jsonw.String(b, ref.Namespace)
	}
	return append(b, '}')
}

// customInput recovers a freeform tool's input from the arguments the model produced for its
// function form ({"input": "..."}); anything else is passed on as the text it is.
func customInput(args []byte) string {
	var v struct {
		Input *string `json:"input"`
	}
	if json.Unmarshal(args, &v) == nil && v.Input != nil {
		return *v.Input
	}
	return string(args)
}

// head is what a response object says besides its output, status, usage and error.
type head struct {
	id      string
	created int64
	opts    *Options
}

// appendResponse appends a response object. output holds complete items, each valid JSON;
// usage is written when non-nil; errObj is the error object of a failed response.
func (h *head) appendResponse(b []byte, status, incomplete string, output [][]byte, usage *llm.Usage, errObj []byte) []byte {
	o := h.opts
	b = append(b, `{"id":`...)
	b = jsonw.String(b, h.id)
	b = append(b, `,"object":"response","created_at":`...)
	b = strconv.AppendInt(b, h.created, 10)
	b = append(b, `,"status":`...)
	b = jsonw.String(b, status)
	b = append(b, `,"background":false,"error":`...)
	if errObj != nil {
		b = append(b, errObj...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"incomplete_details":`...)
	if incomplete != "" {
		b = append(b, `{"reason":`...)
		b = jsonw.String(b, incomplete)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"instructions":null,"max_output_tokens":`...)
	if o.MaxOutputTokens > 0 {
		b = jsonw.Int(b, o.MaxOutputTokens)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"model":`...)
	b = jsonw.String(b, o.Model)
	b = append(b, `,"output":[`...)
	for i, it := range output {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, `],"parallel_tool_calls":`...)
	b = strconv.AppendBool(b, o.ParallelToolCalls)
	// Polydev keeps no responses, whatever the request's store: the object says so.
	b = append(b, `,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":`...)
	b = appendNumber(b, o.Temperature)
	b = append(b, `,"text":{"format":{"type":"text"}},"tool_choice":`...)
	b = appendCompact(b, o.ToolChoice, `"auto"`)
	b = append(b, `,"tools":[],"top_p":`...)
	b = appendNumber(b, o.TopP)
	b = append(b, `,"truncation":"disabled","usage":`...)
	if usage != nil {
		b = appendUsage(b, *usage)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"user":`...)
	if o.User != "" {
		b = jsonw.String(b, o.User)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"metadata":`...)
	if jsonw.IsObject(o.Metadata) {
		b = appendCompact(b, o.Metadata, "{}")
	} else {
		b = append(b, "{}"...)
	}
	return append(b, '}')
}

// appendCompact appends the client's JSON value raw on one line (an event's data must not hold a
// newline), or def when there is none.
func appendCompact(b []byte, raw json.RawMessage, def string) []byte {
	if !present(raw) {
		return append(b, def...)
	}
	buf := bytes.NewBuffer(b)
	if json.Compact(buf, raw) != nil {
		return append(b, def...)
	}
	return buf.Bytes()
}

// appendNumber appends *f, or OpenAI's default of 1 when the client sent none.
func appendNumber(b []byte, f *float64) []byte {
	if f == nil {
		return append(b, '1')
	}
	return strconv.AppendFloat(b, *f, 'g', -1, 64)
}

// outputItems renders a complete response's content: the text between tool calls becomes one
// message item each, every call a function_call (or custom_tool_call) item.
func outputItems(resp *llm.Response, opts *Options) [][]byte {
	var items [][]byte
	var text []byte
	hasText := false
	flush := func() {
		if hasText {
			items = append(items, appendMessage(nil, wire.NewID("msg_"), statusCompleted, string(text), true))
			text, hasText = text[:0], false
		}
	}
	for _, p := range resp.Content {
		switch p.Kind {
		case llm.PartText:
			text, hasText = append(text, p.Text...), true
		case llm.PartToolCall:
			flush()
			tc := p.ToolCall
			ref := opts.ref(tc.Name)
			items = append(items, appendCall(nil, wire.NewID(callPrefix(ref)), statusCompleted, tc.ID, ref, tc.Arguments))
		}
	}
	flush()
	return items
}

// callPrefix is the item id prefix of a call.
func callPrefix(ref ToolRef) string {
	if ref.Custom {
		return "ctc_"
	}
	return "fc_"
}

// AppendResponse appends resp as a response object.
func AppendResponse(b []byte, resp *llm.Response, opts *Options, created int64) []byte {
	h := head{id: wire.NewID("resp_"), created: created, opts: opts}
	status, reason := outcome(resp.StopReason)
	u := resp.Usage
	return h.appendResponse(b, status, reason, outputItems(resp, opts), &u, nil)
}

// WriteResponse writes resp as a response object.
func WriteResponse(w http.ResponseWriter, resp *llm.Response, opts *Options) error {
	return wire.WriteJSON(w, AppendResponse(make([]byte, 0, 1024), resp, opts, wire.Now().Unix()))
}

// WriteError writes err in OpenAI's error shape, which the Responses API shares.
func WriteError(w http.ResponseWriter, err error) { openai.WriteError(w, err) }

// errorCode is the code of a failed response's error object (the codes OpenAI documents for
// response.error; clients such as Codex act on rate_limit_exceeded and insufficient_quota).
func errorCode(err error) string {
	c := wire.Classify(err)
	if e := c.Upstream; e != nil {
		switch e.Kind {
		case llm.ErrRateLimit:
			return "rate_limit_exceeded"
		case llm.ErrQuota:
			return "insufficient_quota"
		case llm.ErrInvalidRequest:
			return "invalid_prompt"
		}
	}
	return "server_error"
}

// appendErrorObject appends {"code","message"} for a failed response.
func appendErrorObject(b []byte, err error) []byte {
	b = append(b, `{"code":`...)
	b = jsonw.String(b, errorCode(err))
	b = append(b, `,"message":`...)
	b = jsonw.String(b, wire.Classify(err).Message)
	return append(b, '}')
}

// AppendErrorEvent appends the data of an error event ({"type":"error","code","message","param"}),
// for a passthrough stream that breaks off.
func AppendErrorEvent(b []byte, err error) []byte {
	b = append(b, `{"type":"error","code":`...)
	b = jsonw.String(b, errorCode(err))
	b = append(b, `,"message":`...)
	b = jsonw.String(b, wire.Classify(err).Message)
	return append(b, `,"param":null}`...)
}
