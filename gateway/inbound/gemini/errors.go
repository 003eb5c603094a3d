package gemini

import (
	"net/http"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/internal/jsonw"
)

// Status is the google.rpc status name Google's APIs send with an HTTP status.
func Status(code int) string {
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusPaymentRequired:
		return "FAILED_PRECONDITION" // what Google answers when billing stands in the way
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusServiceUnavailable, 529:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if code >= 400 && code < 500 {
		return "FAILED_PRECONDITION"
	}
	return "INTERNAL"
}

// AppendError appends {"error":{"code","message","status"}} for err and returns the HTTP status it
// belongs with.
func AppendError(b []byte, err error) ([]byte, int) {
	c := wire.Classify(err)
	return appendStatus(b, c.Status, c.Message), c.Status
}

func appendStatus(b []byte, code int, message string) []byte {
	b = append(b, `{"error":{"code":`...)
	b = jsonw.Int(b, code)
	b = append(b, `,"message":`...)
	b = jsonw.String(b, message)
	b = append(b, `,"status":`...)
	b = jsonw.String(b, Status(code))
	return append(b, `}}`...)
}

// WriteError writes err as a Google API error response, with Retry-After and x-should-retry as
// the other shapes have them.
func WriteError(w http.ResponseWriter, err error) {
	body, status := AppendError(nil, err)
	wire.WriteClassError(w, wire.Classify(err), status, append(body, '\n'))
}

// WriteStatus writes a Google API error of the given status and message (the mux's own 404/405).
func WriteStatus(w http.ResponseWriter, code int, message string) {
	wire.WriteJSONError(w, code, 0, append(appendStatus(nil, code, message), '\n'))
}
