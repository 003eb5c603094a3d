package anthropic

import (
	"encoding/json"
	"strings"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

type wireError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// parseError reads {"type":"error","error":{"type","message"}}.
func parseError(status int, body []byte, e *llm.Error) {
	var w struct {
		Error *wireError `json:"error"`
	}
	if json.Unmarshal(body, &w) != nil || w.Error == nil {
		return
	}
	e.Type, e.Message = w.Error.Type, w.Error.Message
	if k, ok := kindOf(w.Error); ok {
		e.Kind = k
	}
}

// kindOf classifies by the error type, which says more than the status (and is all an in-stream
// error event has).
func kindOf(w *wireError) (llm.ErrorKind, bool) {
	switch w.Type {
	case "invalid_request_error":
		if strings.Contains(strings.ToLower(w.Message), "credit balance") {
			return llm.ErrQuota, true
		}
		return llm.ErrInvalidRequest, true
	case "not_found_error", "request_too_large":
		return llm.ErrInvalidRequest, true
	case "authentication_error":
		return llm.ErrAuth, true
	case "permission_error":
		return llm.ErrPermission, true
	case "billing_error":
		return llm.ErrQuota, true
	case "rate_limit_error":
		return llm.ErrRateLimit, true
	case "overloaded_error":
		return llm.ErrOverloaded, true
	case "timeout_error":
		return llm.ErrTimeout, true
	case "api_error":
		return llm.ErrServer, true
	}
	return "", false
}

func streamError(data []byte) error {
	var w struct {
		Error *wireError `json:"error"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	if w.Error == nil {
		w.Error = &wireError{}
	}
	e := &llm.Error{Provider: Name, InStream: true, Kind: llm.ErrServer, Type: w.Error.Type, Message: w.Error.Message}
	if k, ok := kindOf(w.Error); ok {
		e.Kind = k
	}
	e.Retryable = upstream.Retryable(e.Kind)
	return e
}
