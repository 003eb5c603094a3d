package testkit

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
)

// OpenAI Responses API (POST /v1/responses), as documented at
// https://platform.openai.com/docs/api-reference/responses: a pretty-printed
// response object, or named events (`event: response.created` ...) whose
// data carries the same type and a sequence_number counting from 0, ending
// with response.completed (or response.incomplete) holding the whole
// response and its usage. A failure after the 200 is response.failed. When
// the script has reasoning tokens the output starts with a reasoning item
// (without a summary), as OpenAI's reasoning models answer.

const (
	responsesID       = "resp_testkit0000000000000000000001"
	responsesMsgID    = "msg_testkit0001"
	responsesReasonID = "rs_testkit0001"
	responsesCallID   = "fc_testkit%04d"
)

// responsesUsage maps the neutral usage to the Responses fields.
func responsesUsage(u Usage) obj {
	return obj{
		{"input_tokens", u.PromptTokens},
		{"input_tokens_details", obj{{"cached_tokens", u.CachedTokens}}},
		{"output_tokens", u.CompletionTokens},
		{"output_tokens_details", obj{{"reasoning_tokens", u.ReasoningTokens}}},
		{"total_tokens", u.Total()},
	}
}

type responsesRender struct {
	id, model  string
	text       string
	texts      []string
	calls      []preparedCall
	reasoning  bool
	status     string // completed or incomplete
	incomplete string // the reason when incomplete
	usage      obj
}

func newResponsesRender(s Script, calls []preparedCall) responsesRender {
	r := responsesRender{
		id: cmp.Or(s.ID, responsesID), model: cmp.Or(s.Model, openaiModel), text: s.Text, texts: s.textDeltas(),
		calls: calls, reasoning: s.Usage.ReasoningTokens > 0, status: "completed", usage: responsesUsage(s.Usage),
	}
	// StopReason is OpenAI-native: the chat finish_reason that ends a response early.
	switch s.StopReason {
	case "length":
		r.status, r.incomplete = "incomplete", "max_output_tokens"
	case "content_filter":
		r.status, r.incomplete = "incomplete", "content_filter"
	}
	return r
}

func (r responsesRender) reasoningItem() obj {
	return obj{{"id", responsesReasonID}, {"type", "reasoning"}, {"summary", arr{}}}
}

func responsesTextPart(text string) obj {
	return obj{{"type", "output_text"}, {"annotations", arr{}}, {"logprobs", arr{}}, {"text", text}}
}

func (r responsesRender) message(status string, content arr) obj {
	return obj{{"id", responsesMsgID}, {"type", "message"}, {"status", status}, {"content", content}, {"role", "assistant"}}
}

func (r responsesRender) callItem(i int, status, args string) obj {
	c := r.calls[i]
	return obj{{"id", fmt.Sprintf(responsesCallID, i+1)}, {"type", "function_call"}, {"status", status}, {"arguments", args}, {"call_id", c.id}, {"name", c.name}}
}

// output is the finished output items.
func (r responsesRender) output() arr {
	var out arr
	if r.reasoning {
		out = append(out, r.reasoningItem())
	}
	if r.text != "" {
		out = append(out, r.message("completed", arr{responsesTextPart(r.text)}))
	}
	for i, c := range r.calls {
		out = append(out, r.callItem(i, "completed", string(c.args)))
	}
	if out == nil {
		out = arr{}
	}
	return out
}

// object renders the response object.
func (r responsesRender) object(status string, output arr, usage any, errObj any) obj {
	var incomplete any
	if status == "incomplete" {
		incomplete = obj{{"reason", r.incomplete}}
	}
	return obj{
		{"id", r.id},
		{"object", "response"},
		{"created_at", openaiCreated},
		{"status", status},
		{"background", false},
		{"error", errObj},
		{"incomplete_details", incomplete},
		{"instructions", nil},
		{"max_output_tokens", nil},
		{"model", r.model},
		{"output", output},
		{"parallel_tool_calls", true},
		{"previous_response_id", nil},
		{"reasoning", obj{{"effort", nil}, {"summary", nil}}},
		{"service_tier", "default"},
		{"store", true},
		{"temperature", raw("1.0")},
		{"text", obj{{"format", obj{{"type", "text"}}}, {"verbosity", "medium"}}},
		{"tool_choice", "auto"},
		{"tools", arr{}},
		{"top_p", raw("1.0")},
		{"truncation", "disabled"},
		{"usage", usage},
		{"user", nil},
		{"metadata", obj{}},
	}
}

func (r responsesRender) body() []byte {
	return indented(r.object(r.status, r.output(), r.usage, nil), "  ")
}

// responsesEvent renders one named event with its sequence number.
func responsesEvent(typ string, seq int, fields ...field) []byte {
	o := append(obj{{"type", typ}, {"sequence_number", seq}}, fields...)
	out := append([]byte("event: "+typ+"\ndata: "), compact(o)...)
	return append(out, "\n\n"...)
}

func (r responsesRender) stream(s Script) []frame {
	seq := 0
	next := func() int { seq++; return seq - 1 }
	b := newStreamBuilder(s, func(e StreamError, n int) []byte {
		typ := cmp.Or(e.Type, "server_error")
		_, _, msg := openaiCanonical(openaiStreamErrorStatus(typ))
		failed := r.object("failed", arr{}, nil, obj{{"code", typ}, {"message", cmp.Or(e.Message, msg)}})
		return responsesEvent("response.failed", n, field{"response", failed})
	}, func(n int) []byte {
		return []byte(fmt.Sprintf("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":%d,\"delta\":\"\n\n", n))
	})
	inProgress := r.object("in_progress", arr{}, nil, nil)
	b.add(responsesEvent("response.created", next(), field{"response", inProgress}), false)
	b.add(responsesEvent("response.in_progress", next(), field{"response", inProgress}), false)
	out := 0
	if r.reasoning {
		b.add(responsesEvent("response.output_item.added", next(), field{"output_index", out}, field{"item", r.reasoningItem()}), false)
		b.add(responsesEvent("response.output_item.done", next(), field{"output_index", out}, field{"item", r.reasoningItem()}), false)
		out++
	}
	if len(r.texts) > 0 {
		ref := []field{{"item_id", responsesMsgID}, {"output_index", out}, {"content_index", 0}}
		b.add(responsesEvent("response.output_item.added", next(), field{"output_index", out}, field{"item", r.message("in_progress", arr{})}), false)
		b.add(responsesEvent("response.content_part.added", next(), append(ref, field{"part", responsesTextPart("")})...), false)
		for _, t := range r.texts {
			b.add(responsesEvent("response.output_text.delta", next(), append(ref, field{"delta", t}, field{"logprobs", arr{}})...), true)
		}
		b.add(responsesEvent("response.output_text.done", next(), append(ref, field{"text", r.text}, field{"logprobs", arr{}})...), false)
		b.add(responsesEvent("response.content_part.done", next(), append(ref, field{"part", responsesTextPart(r.text)})...), false)
		b.add(responsesEvent("response.output_item.done", next(), field{"output_index", out}, field{"item", r.message("completed", arr{responsesTextPart(r.text)})}), false)
		out++
	}
	for i, c := range r.calls {
		id := fmt.Sprintf(responsesCallID, i+1)
		b.add(responsesEvent("response.output_item.added", next(), field{"output_index", out}, field{"item", r.callItem(i, "in_progress", "")}), false)
		for _, f := range c.frags {
			b.add(responsesEvent("response.function_call_arguments.delta", next(), field{"item_id", id}, field{"output_index", out}, field{"delta", f}), true)
		}
		b.add(responsesEvent("response.function_call_arguments.done", next(), field{"item_id", id}, field{"output_index", out}, field{"arguments", string(c.args)}), false)
		b.add(responsesEvent("response.output_item.done", next(), field{"output_index", out}, field{"item", r.callItem(i, "completed", string(c.args))}), false)
		out++
	}
	b.endContent()
	final := "response.completed"
	if r.status == "incomplete" {
		final = "response.incomplete"
	}
	b.add(responsesEvent(final, next(), field{"response", r.object(r.status, r.output(), r.usage, nil)}), false)
	return b.frames
}

// renderResponses renders s for POST /v1/responses; errors before the
// stream are the same replies as for chat completions.
func renderResponses(s Script, calls []preparedCall, chat *reply) *reply {
	r := newResponsesRender(s, calls)
	rep := &reply{
		status: http.StatusOK, header: openaiJSONHeader, body: r.body(),
		deltas:       countDeltas(r.texts, calls, false),
		streamHeader: [2]http.Header{openaiStreamHeader, openaiStreamHeader},
		firstByte:    s.FirstByteLatency, tokenDelay: s.TokenDelay, holdLast: s.HoldLast, stallAfter: s.StallAfterDeltas,
	}
	rep.streams[0] = r.stream(s)
	switch {
	case s.StreamError != nil:
		rep.status, rep.header, rep.body = chat.status, chat.header, chat.body
	case s.Malformed != nil:
		rep.body, rep.abortBody = truncated(s.Malformed, rep.body), s.Malformed.Abort
	}
	return rep
}

var (
	responsesNoModel = openaiError(http.StatusBadRequest, ErrorReply{Message: "Missing required parameter: 'model'."}, "model", "missing_required_parameter")
	responsesNoInput = openaiError(http.StatusBadRequest, ErrorReply{Message: "Missing required parameter: 'input'."}, "input", "missing_required_parameter")
)

// serveResponses handles POST /v1/responses.
func (d openaiDialect) serveResponses(u *Upstream, w http.ResponseWriter, r *http.Request) {
	rq := u.begin(r)
	defer u.end(rq)
	if !u.authorized(rq) {
		write(w, d.rejectKey(rq.key, rq.keyPresent))
		return
	}
	var req struct {
		Model  string  `json:"model"`
		Input  present `json:"input"`
		Stream bool    `json:"stream"`
	}
	switch {
	case json.Unmarshal(rq.body, &req) != nil:
		write(w, openaiBadJSON)
	case req.Model == "":
		write(w, responsesNoModel)
	case !bool(req.Input):
		write(w, responsesNoInput)
	default:
		rep := u.next(rq.key)
		if rep.responses != nil {
			rep = rep.responses
		}
		u.serve(w, r, rq, rep, req.Stream, 0)
	}
}
