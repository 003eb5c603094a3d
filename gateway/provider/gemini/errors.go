package gemini

import (
	"encoding/json"
	"strings"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

type wireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
	Details []struct {
		Type       string `json:"@type"`
		Reason     string `json:"reason"`
		Violations []struct {
			QuotaID string `json:"quotaId"`
		} `json:"violations"`
	} `json:"details"`
}

// parseError reads {"error":{"code","message","status","details"}}.
func parseError(status int, body []byte, e *llm.Error) {
	var w struct {
		Error *wireError `json:"error"`
	}
	if json.Unmarshal(body, &w) != nil || w.Error == nil {
		return
	}
	e.Type, e.Message = w.Error.Status, w.Error.Message
	if k, ok := kindOf(w.Error); ok {
		e.Kind = k
	}
}

// kindOf classifies a google.rpc status. A bad key is a 400 INVALID_ARGUMENT whose ErrorInfo
// reason is API_KEY_INVALID; a daily quota is a 429 whose QuotaFailure names a per-day quota.
func kindOf(w *wireError) (llm.ErrorKind, bool) {
	for _, d := range w.Details {
		switch {
		case strings.HasPrefix(d.Reason, "API_KEY_"):
			return llm.ErrAuth, true
		case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure"):
			for _, v := range d.Violations {
				if strings.Contains(v.QuotaID, "PerDay") {
					return llm.ErrQuota, true
				}
			}
		}
	}
	switch w.Status {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE", "NOT_FOUND":
		return llm.ErrInvalidRequest, true
	case "UNAUTHENTICATED":
		return llm.ErrAuth, true
	case "PERMISSION_DENIED":
		return llm.ErrPermission, true
	case "RESOURCE_EXHAUSTED":
		return llm.ErrRateLimit, true
	case "UNAVAILABLE":
		return llm.ErrOverloaded, true
	case "DEADLINE_EXCEEDED":
		return llm.ErrTimeout, true
	case "INTERNAL", "UNKNOWN":
		return llm.ErrServer, true
	}
	return "", false
}

func streamError(w *wireError) *llm.Error {
	e := &llm.Error{Provider: Name, InStream: true, Kind: llm.ErrServer, Type: w.Status, Message: w.Message}
	if k, ok := kindOf(w); ok {
		e.Kind = k
	}
	e.Retryable = upstream.Retryable(e.Kind)
	return e
}
