package polydev

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status and one OpenAI-style error type in package web.
const (
	EINVALID      = "invalid"          // the request is malformed or breaks a rule: 400
	EUNAUTHORIZED = "unauthorized"     // no valid credentials: 401
	EFORBIDDEN    = "forbidden"        // authenticated but not allowed: 403
	ENOTFOUND     = "not_found"        // no such thing, or not the caller's: 404
	ECONFLICT     = "conflict"         // clashes with existing state (e.g. email taken): 409
	ETOOLARGE     = "too_large"        // request body over the limit: 413
	EPAYMENT      = "payment_required" // a budget is exhausted: 402
	ERATELIMIT    = "rate_limited"     // too many requests: 429
	EUNAVAILABLE  = "unavailable"      // a dependency is down or a feature is off: 503
	EINTERNAL     = "internal_error"   // anything unexpected: 500
)

// Error is the one error type of Polydev. Message is safe to show to the client; Cause is only ever
// logged. Errors that are not *Error are treated as internal errors with a generic message, so a
// database or library error can never leak its text to a client.
type Error struct {
	Code    string
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("polydev %s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("polydev %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with the given code and a client-safe formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error whose Cause is err: the cause is logged, the message is shown.
func Wrap(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Cause: err}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other non-nil error
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err; unknown errors get a generic text.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error."
}
