package agent

import (
	"errors"
	"log/slog"
	"net/http"
)

// Error is an HTTP failure: Message goes to the client, Cause only to the log.
type Error struct {
	Status  int
	Code    string
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Message + ": " + e.Cause.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// handle adapts a handler that returns an error, rendering every error in one place, in the
// API's {"error":{"message","type","code"}} shape. Unknown errors are a generic 500.
func handle(log *slog.Logger, h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		e, ok := errors.AsType[*Error](err)
		if !ok {
			e = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error", Cause: err}
		}
		log.Warn("request failed", "path", r.URL.Path, "status", e.Status, "error", e.Error())
		type body struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		}
		writeJSON(w, e.Status, map[string]body{"error": {Message: e.Message, Type: "agent_error", Code: e.Code}})
	})
}
