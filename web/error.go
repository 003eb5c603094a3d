package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/polydev/polydev"
)

// statusOf maps error codes to HTTP statuses and OpenAI-style error types. OpenAI's shape is used so
// that OpenAI clients, which most callers are, show our errors well.
var statusOf = map[string]struct {
	status int
	kind   string
}{
	polydev.EINVALID:      {http.StatusBadRequest, "invalid_request_error"},
	polydev.EUNAUTHORIZED: {http.StatusUnauthorized, "authentication_error"},
	polydev.EFORBIDDEN:    {http.StatusForbidden, "permission_error"},
	polydev.ENOTFOUND:     {http.StatusNotFound, "not_found_error"},
	polydev.ECONFLICT:     {http.StatusConflict, "invalid_request_error"},
	polydev.ETOOLARGE:     {http.StatusRequestEntityTooLarge, "invalid_request_error"},
	polydev.EPAYMENT:      {http.StatusPaymentRequired, "insufficient_quota"},
	polydev.ERATELIMIT:    {http.StatusTooManyRequests, "rate_limit_error"},
	polydev.EUNAVAILABLE:  {http.StatusServiceUnavailable, "api_error"},
	polydev.EINTERNAL:     {http.StatusInternalServerError, "api_error"},
}

// ErrorBody is the one JSON error shape of the whole API.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    string `json:"code"`
}

// renderError is the only place errors become responses. The client sees the code and the safe
// message; the cause is logged with the request id, and only for server-side failures at error level.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	status, body := apiError(err)
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", "request_id", requestIDFrom(r.Context()), "code", body.Error.Code, "err", err)
	writeErrorBody(w, status, body)
}

// apiError is the status and body of err in the API's shape.
func apiError(err error) (int, ErrorBody) {
	code := polydev.ErrorCode(err)
	st, ok := statusOf[code]
	if !ok {
		code, st = polydev.EINTERNAL, statusOf[polydev.EINTERNAL]
	}
	return st.status, ErrorBody{Error: ErrorDetail{Message: polydev.ErrorMessage(err), Type: st.kind, Code: code}}
}

// writeAPIError is the API's shape as an ErrorWriter, for a route that passes admission (/mcp):
// gatewayError has logged, and a limit's wait is in Retry-After.
func writeAPIError(w http.ResponseWriter, err error) {
	if le, ok := errors.AsType[*polydev.LimitError](err); ok && le.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((le.RetryAfter+time.Second-1)/time.Second)))
	}
	status, body := apiError(err)
	writeErrorBody(w, status, body)
}

func writeErrorBody(w http.ResponseWriter, status int, body ErrorBody) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
