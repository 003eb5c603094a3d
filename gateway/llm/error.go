package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/polydev/polydev"
)

// ErrorKind classifies an upstream failure by what a caller can do about it.
type ErrorKind string

// Error kinds. Retryable and Failover on Error say what each one allows.
const (
	ErrInvalidRequest ErrorKind = "invalid_request" // the request is wrong for this provider/model (400, 404, 413, 422)
	ErrAuth           ErrorKind = "authentication"  // the provider key was refused (401; Gemini 400 API_KEY_INVALID)
	ErrPermission     ErrorKind = "permission"      // the key may not do this (403)
	ErrRateLimit      ErrorKind = "rate_limit"      // too many requests or tokens per minute (429)
	ErrQuota          ErrorKind = "quota"           // out of credit or daily quota (429 insufficient_quota, ...)
	ErrOverloaded     ErrorKind = "overloaded"      // provider overloaded (529, 503, Anthropic overloaded_error)
	ErrServer         ErrorKind = "server"          // provider-side failure (500, 502, 504, ...)
	ErrTimeout        ErrorKind = "timeout"         // no answer in time (client timeout, 408, deadline)
	ErrNetwork        ErrorKind = "network"         // connection failed, reset or cut mid-stream
	ErrMalformed      ErrorKind = "malformed"       // the upstream sent bytes that are not its documented format
	ErrCanceled       ErrorKind = "canceled"        // the caller's context ended (the client went away)
)

// Error is an upstream failure. Message is safe to show to clients: it never contains the provider
// key (adapters redact it, and replace authentication messages entirely); Cause is for logs only.
type Error struct {
	Provider string    // "openai", "anthropic", "gemini"
	Kind     ErrorKind // what kind of failure
	// Status is the upstream HTTP status; 0 when none applies (network failures, in-stream errors).
	Status int
	// Type is the provider's own error type or code (rate_limit_exceeded, overloaded_error,
	// RESOURCE_EXHAUSTED, ...), for logs and metrics.
	Type string
	// Message is the client-safe description.
	Message string
	// Retryable says the same request may succeed if sent again after a pause (RetryAfter when the
	// provider said). In-stream errors are retryable only before any content event was returned.
	Retryable  bool
	RetryAfter time.Duration
	// InStream marks an error that arrived after the upstream's 200 (an error event or chunk, a cut
	// or malformed stream).
	InStream bool
	Cause    error
}

func (e *Error) Error() string {
	s := e.Provider + ": " + string(e.Kind)
	if e.Status != 0 {
		s += " (HTTP " + strconv.Itoa(e.Status) + ")"
	}
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// Failover reports whether another key or provider may succeed where this one failed.
func (e *Error) Failover() bool {
	switch e.Kind {
	case ErrInvalidRequest, ErrCanceled:
		return false
	}
	return true
}

// HTTPStatus is the status a gateway answers its client with for this error. Failures of the
// gateway's own upstream configuration (a refused key) are 502, not 401: the client's credentials
// for the gateway are fine.
func (e *Error) HTTPStatus() int {
	switch e.Kind {
	case ErrInvalidRequest:
		if e.Status >= 400 && e.Status < 500 && e.Status != 401 && e.Status != 403 && e.Status != 429 {
			return e.Status
		}
		return http.StatusBadRequest
	case ErrRateLimit, ErrQuota:
		return http.StatusTooManyRequests
	case ErrOverloaded:
		return http.StatusServiceUnavailable
	case ErrTimeout:
		return http.StatusGatewayTimeout
	case ErrCanceled:
		return 499 // client closed request; nobody is listening
	}
	return http.StatusBadGateway
}

// Code maps the error to a polydev error code, for layers that speak polydev.Error.
func (e *Error) Code() string {
	switch e.Kind {
	case ErrInvalidRequest:
		if e.Status == http.StatusNotFound {
			return polydev.ENOTFOUND
		}
		if e.Status == http.StatusRequestEntityTooLarge {
			return polydev.ETOOLARGE
		}
		return polydev.EINVALID
	case ErrRateLimit, ErrQuota:
		return polydev.ERATELIMIT
	}
	return polydev.EUNAVAILABLE
}

// AsError returns err's *Error, if its chain holds one.
func AsError(err error) (*Error, bool) {
	return errors.AsType[*Error](err)
}

// Canceled returns the error a stream or call reports when its context ended.
func Canceled(ctx context.Context, provider string, inStream bool) *Error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = context.Canceled
	}
	kind, msg := ErrCanceled, "the request was cancelled"
	if errors.Is(cause, context.DeadlineExceeded) {
		kind, msg = ErrTimeout, "the upstream did not answer in time"
	}
	return &Error{Provider: provider, Kind: kind, Message: msg, InStream: inStream, Cause: cause}
}

// Errorf is a small helper for adapters: an Error with a formatted client-safe message.
func Errorf(provider string, kind ErrorKind, format string, args ...any) *Error {
	return &Error{Provider: provider, Kind: kind, Message: fmt.Sprintf(format, args...)}
}
