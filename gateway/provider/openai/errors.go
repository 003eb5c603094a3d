package openai

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

type wireError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"` // a string, a number or null
}

func (w *wireError) code() string {
	switch c := w.Code.(type) {
	case string:
		return c
	case float64:
		return fmt.Sprint(c)
	}
	return ""
}

// parseError reads {"error":{"message","type","param","code"}}.
func parseError(status int, body []byte, e *llm.Error) {
	var w struct {
		Error *wireError `json:"error"`
	}
	if json.Unmarshal(body, &w) != nil || w.Error == nil {
		return
	}
	fill(w.Error, e)
}

func fill(w *wireError, e *llm.Error) {
	code := w.code()
	e.Type = w.Type
	if code != "" && code != w.Type {
		e.Type = strings.TrimPrefix(w.Type+" "+code, " ")
	}
	e.Message = w.Message
	switch {
	case code == "insufficient_quota" || w.Type == "insufficient_quota":
		e.Kind = llm.ErrQuota
	case code == "invalid_api_key":
		e.Kind = llm.ErrAuth
	}
}

// streamError turns an error chunk ({"error":{...}} after a 200) into an *llm.Error; the kind
// comes from the type, there being no status.
func streamError(w *wireError) *llm.Error {
	e := &llm.Error{Provider: Name, InStream: true}
	switch w.Type {
	case "invalid_request_error":
		e.Kind = llm.ErrInvalidRequest
	case "requests", "tokens", "rate_limit_exceeded":
		e.Kind = llm.ErrRateLimit
	default:
		e.Kind = llm.ErrServer
	}
	fill(w, e)
	e.Retryable = upstream.Retryable(e.Kind)
	if e.Message == "" {
		e.Message = "the provider reported an error mid-stream"
	}
	return e
}
