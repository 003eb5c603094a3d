package openai

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/internal/jsonscan"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// responsesMeter reads usage from a relayed Responses API answer: response.completed (or
// response.incomplete) carries the whole response with its usage and completes the answer;
// response.failed and error events are the provider's in-stream failures. Deltas are looked into
// just far enough to count the bytes produced, for the estimate of a stream cut before its end.
type responsesMeter struct {
	sc         jsonscan.Scanner
	usage      llm.Usage
	usageKnown bool
	complete   bool
	produced   int
	reqBytes   int
}

// responsesUsage is the Responses usage object. input_tokens include cached tokens, output_tokens
// reasoning tokens, as the canonical counts do.
type responsesUsage struct {
	InputTokens        *int `json:"input_tokens"`
	InputTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        *int `json:"output_tokens"`
	OutputTokensDetails *struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// responseObject is what the meter reads of a response object (the whole body, or the response
// member of a final event).
type responseObject struct {
	Status string          `json:"status"`
	Usage  *responsesUsage `json:"usage"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// apply takes the usage into m; bounded and non-negative, whatever the upstream sent.
func (m *responsesMeter) apply(u *responsesUsage) {
	if u == nil || u.InputTokens == nil || u.OutputTokens == nil {
		return
	}
	m.usage = llm.Usage{InputTokens: *u.InputTokens, OutputTokens: *u.OutputTokens}
	if d := u.InputTokensDetails; d != nil {
		m.usage.CacheReadTokens = d.CachedTokens
	}
	if d := u.OutputTokensDetails; d != nil {
		m.usage.ReasoningTokens = d.ReasoningTokens
	}
	m.usage = clampUsage(m.usage)
	m.usageKnown = true
}

// maxTokens bounds each reported count (no answer is anywhere near it) so that a broken or
// hostile upstream cannot overflow what is priced from it.
const maxTokens = 1 << 40

func clampUsage(u llm.Usage) llm.Usage {
	c := func(n int) int { return min(max(n, 0), maxTokens) }
	u.InputTokens, u.OutputTokens = c(u.InputTokens), c(u.OutputTokens)
	u.CacheReadTokens = min(c(u.CacheReadTokens), u.InputTokens)
	u.ReasoningTokens = min(c(u.ReasoningTokens), u.OutputTokens)
	return u
}

func (m *responsesMeter) Event(ev sse.Event) (bool, error) {
	typ := ev.Type
	if typ == "" || typ == "message" {
		typ = m.member(ev.Data, "type")
	}
	switch typ {
	case "response.output_text.delta", "response.function_call_arguments.delta",
		"response.custom_tool_call_input.delta", "response.refusal.delta", "response.reasoning_summary_text.delta":
		m.produced += len(m.member(ev.Data, "delta"))
	case "response.completed", "response.incomplete":
		var e struct{ Response responseObject }
		if json.Unmarshal(ev.Data, &e) == nil {
			m.apply(e.Response.Usage)
		}
		m.complete = true
	case "response.failed":
		var e struct{ Response responseObject }
		_ = json.Unmarshal(ev.Data, &e)
		m.apply(e.Response.Usage)
		code, msg := "", ""
		if er := e.Response.Error; er != nil {
			code, msg = er.Code, er.Message
		}
		return true, responsesError(code, msg)
	case "error":
		var e struct{ Code, Message string }
		_ = json.Unmarshal(ev.Data, &e)
		return true, responsesError(e.Code, e.Message)
	}
	return true, nil
}

// member returns the string member key of the JSON object data ("" when it has none).
func (m *responsesMeter) member(data []byte, key string) string {
	m.sc.Reset(data)
	if !m.sc.Object() {
		return ""
	}
	for {
		k, ok := m.sc.Key()
		if !ok {
			return ""
		}
		if string(k) == key {
			return m.sc.String()
		}
		m.sc.Skip()
	}
}

// responsesError is a failure the upstream reported inside a Responses stream.
func responsesError(code, msg string) *llm.Error {
	e := &llm.Error{Provider: Name, InStream: true, Type: code, Message: msg}
	switch code {
	case "rate_limit_exceeded":
		e.Kind = llm.ErrRateLimit
	case "insufficient_quota":
		e.Kind = llm.ErrQuota
	case "invalid_prompt", "context_length_exceeded", "invalid_request_error":
		e.Kind = llm.ErrInvalidRequest
	default:
		e.Kind = llm.ErrServer
	}
	e.Retryable = upstream.Retryable(e.Kind)
	if e.Message == "" {
		e.Message = "the provider reported an error mid-stream"
	}
	return e
}

func (m *responsesMeter) Body(b []byte) error {
	m.complete = true
	m.produced = len(b)
	var r responseObject
	if err := json.Unmarshal(b, &r); err != nil {
		return upstream.Malformed(Name, false, err)
	}
	m.apply(r.Usage)
	return nil
}

func (m *responsesMeter) Complete() bool { return m.complete }

func (m *responsesMeter) Usage() llm.Usage {
	u := m.usage
	u.Partial = !m.complete
	upstream.FinishUsage(&u, m.usageKnown, m.usageKnown, m.reqBytes, m.produced)
	return u
}
