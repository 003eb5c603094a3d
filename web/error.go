package web

import (
	"encoding/json"
	"log/slog"
	"net/http"

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
	code := polydev.ErrorCode(err)
	st, ok := statusOf[code]
	if !ok {
		code, st = polydev.EINTERNAL, statusOf[polydev.EINTERNAL]
	}
	level := slog.LevelDebug
	if st.status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", "request_id", requestIDFrom(r.Context()), "code", code, "err", err)
	writeErrorBody(w, st.status, ErrorBody{Error: ErrorDetail{Message: polydev.ErrorMessage(err), Type: st.kind, Code: code}})
}

func writeErrorBody(w http.ResponseWriter, status int, body ErrorBody) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
