// Package wire is what the inbound codecs share: strict JSON decoding with client-safe
// polydev.Error messages, the classification of any error into a status and a kind for
// rendering, ids, and the response headers of an event stream. It knows neither inbound shape.
package wire

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

// Decode unmarshals a request body into v. Unknown fields are ignored (clients send fields this
// gateway does not know, and must keep working), but every known field must have its documented
// JSON type. Errors are polydev.EINVALID with a message naming the field.
func Decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return polydev.Errorf(polydev.EINVALID, "request body is empty; a JSON object is required")
	}
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		return polydev.Errorf(polydev.EINVALID, "request body is not valid JSON (at byte %d)", e.Offset)
	}
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if e.Field == "" {
			return polydev.Errorf(polydev.EINVALID, "request body must be a JSON object")
		}
		return polydev.Errorf(polydev.EINVALID, "%s: must not be a JSON %s", e.Field, e.Value)
	}
	return polydev.Wrap(polydev.EINVALID, err, "request body is not valid")
}

// Invalid is a polydev.EINVALID error about one field.
func Invalid(field, format string, args ...any) error {
	return polydev.Errorf(polydev.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
}

// Class is an error reduced to what a renderer needs.
type Class struct {
	Status     int
	Message    string
	Upstream   *llm.Error // set for upstream failures
	Code       string     // polydev code for gateway errors, llm kind for upstream ones
	RetryAfter time.Duration
	// ShouldRetry is the x-should-retry header: "false" when the same request cannot succeed later,
	// "true" when it can after RetryAfter (or the client's own backoff), "" to leave it to the
	// client's defaults. See ShouldRetry.
	ShouldRetry string
}

// Classify reduces err. Unknown errors are a 500 with a generic message (their text never
// reaches a client).
func Classify(err error) Class {
	if e, ok := llm.AsError(err); ok {
		msg := e.Message
		if e.Provider != "" {
			msg = e.Provider + ": " + msg
		}
		c := Class{Status: e.HTTPStatus(), Message: msg, Upstream: e, Code: string(e.Kind), RetryAfter: e.RetryAfter}
		c.ShouldRetry = shouldRetryUpstream(e)
		return c
	}
	code := polydev.ErrorCode(err)
	c := Class{Status: StatusOf(code), Message: polydev.ErrorMessage(err), Code: code}
	if le, ok := errors.AsType[*polydev.LimitError](err); ok {
		c.RetryAfter = le.RetryAfter
	}
	c.ShouldRetry = shouldRetry(code, c.RetryAfter)
	return c
}

// MaxUsefulRetryAfter is the longest pause after which a client is still told to retry. The OpenAI
// SDKs ignore a Retry-After above 60 s and retry after their own short backoff instead (wasted
// requests against a limit that resets hours later); the Anthropic SDKs sleep for whatever it says.
// A limit that resets later than this is answered x-should-retry: false, with the real Retry-After
// for clients that schedule their own retry.
const MaxUsefulRetryAfter = time.Minute

// shouldRetry is the x-should-retry value for Polydev's own errors. Both official SDKs (OpenAI,
// Anthropic) obey the header over their status rules, which would otherwise retry 409, 429 and
// every 5xx. A client mistake, missing credentials or permission, a spent budget: false. A
// rate limit whose window resets within MaxUsefulRetryAfter: true; later: false. Internal
// failures and unavailable dependencies are left to the client's defaults (a retry may help).
func shouldRetry(code string, retryAfter time.Duration) string {
	switch code {
	case polydev.EINVALID, polydev.EUNAUTHORIZED, polydev.EFORBIDDEN, polydev.ENOTFOUND, polydev.ECONFLICT,
		polydev.ETOOLARGE, polydev.EPAYMENT:
		return "false"
	case polydev.ERATELIMIT:
		if retryAfter > MaxUsefulRetryAfter {
			return "false"
		}
		return "true"
	}
	return ""
}

// shouldRetryUpstream is the x-should-retry value for an upstream failure that reached the client
// (every key that could fail over was tried). A request the provider refused as invalid, a key it
// refused or an exhausted quota will not pass on a retry; rate limits, overload, server, network
// and timeout failures may.
func shouldRetryUpstream(e *llm.Error) string {
	switch e.Kind {
	case llm.ErrInvalidRequest, llm.ErrAuth, llm.ErrPermission, llm.ErrQuota:
		return "false"
	}
	if e.Retryable {
		return "true"
	}
	return ""
}

// StatusOf maps a polydev code to its HTTP status (the same table as package web).
func StatusOf(code string) int {
	switch code {
	case polydev.EINVALID:
		return http.StatusBadRequest
	case polydev.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case polydev.EFORBIDDEN:
		return http.StatusForbidden
	case polydev.ENOTFOUND:
		return http.StatusNotFound
	case polydev.ECONFLICT:
		return http.StatusConflict
	case polydev.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case polydev.ERATELIMIT:
		return http.StatusTooManyRequests
	case polydev.EPAYMENT:
		return http.StatusPaymentRequired
	case polydev.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// WriteJSONError writes an error response.
func WriteJSONError(w http.ResponseWriter, status int, retryAfter time.Duration, body []byte) {
	WriteClassError(w, Class{RetryAfter: retryAfter}, status, body)
}

// WriteClassError writes an error response of class c with the given status: Retry-After (whole
// seconds, rounded up) and x-should-retry as c says.
func WriteClassError(w http.ResponseWriter, c Class, status int, body []byte) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if c.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((c.RetryAfter+time.Second-1)/time.Second)))
	}
	if c.ShouldRetry != "" {
		h.Set("X-Should-Retry", c.ShouldRetry)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// StreamHeaders sets the headers of an event stream; X-Accel-Buffering stops nginx-style proxies
// from holding events back.
func StreamHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
}

// WriteJSON writes a 200 JSON response.
func WriteJSON(w http.ResponseWriter, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// NewID returns prefix followed by 24 random hex digits.
func NewID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Now is the clock for "created" timestamps.
var Now = time.Now
