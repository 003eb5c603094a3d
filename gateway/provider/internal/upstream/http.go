// Package upstream is the plumbing the provider adapters share: sending a request and turning HTTP
// and transport failures into *llm.Error, redacting keys, and the Stream that drives a provider's
// SSE decoder with usage accounting. It knows no provider's wire format; adapters plug theirs in.
package upstream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

// Limits on what is read from an upstream.
const (
	MaxErrorBody    = 64 << 10 // error bodies beyond this are cut: only the message matters
	MaxResponseBody = 32 << 20 // a non-streamed response
	MaxEventSize    = 8 << 20  // one SSE event (Gemini sends whole function calls in one)
	maxMessage      = 600      // client-visible error message length
)

var userAgent = "polydev-gateway/" + polydev.Version

// NewRequest builds a JSON request bound to ctx.
func NewRequest(ctx context.Context, method, url string, body []byte, stream bool) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	h := req.Header
	if body != nil {
		h["Content-Type"] = []string{"application/json"}
	}
	if stream {
		h["Accept"] = []string{"text/event-stream"}
	} else {
		h["Accept"] = []string{"application/json"}
	}
	h["User-Agent"] = []string{userAgent}
	return req, nil
}

// ErrorParser extracts a provider's error details from an error body. It fills Type and Message
// (unredacted: Send redacts), and may set Kind when the body says more than the status (a 429 that
// is a quota, a 400 that is a bad key). It must not fail: unknown bodies leave the fields empty.
type ErrorParser func(status int, body []byte, e *llm.Error)

// Call is one upstream exchange.
type Call struct {
	Provider string
	Client   *http.Client
	Key      string // redacted from every message
	Parse    ErrorParser
}

// Send performs req. A 2xx response is returned open; anything else becomes an *llm.Error.
//
// The request goes to the client's transport directly, not through http.Client.Do: Polydev never
// follows a provider's redirect (netguard.CheckRedirect refuses them all; a 3xx is an unusable
// answer, see KindOf), sets no client-wide timeout (router.Timeouts bound the waits) and keeps no
// cookies, and Do would copy every request's headers for redirects it might follow.
func (c Call) Send(req *http.Request) (*http.Response, error) {
	var rt http.RoundTripper = http.DefaultTransport
	if c.Client != nil && c.Client.Transport != nil {
		rt = c.Client.Transport
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, c.transportError(req.Context(), err, false)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
	resp.Body.Close()
	return nil, c.HTTPError(resp.StatusCode, resp.Header, body)
}

// transportError classifies a failure to get (or keep reading) a response.
func (c Call) transportError(ctx context.Context, err error, inStream bool) *llm.Error {
	if ctx.Err() != nil {
		return llm.Canceled(ctx, c.Provider, inStream)
	}
	e := &llm.Error{Provider: c.Provider, Kind: llm.ErrNetwork, Message: "could not reach the provider", Retryable: true, InStream: inStream, Cause: err}
	if inStream {
		e.Message = "the provider's stream broke off"
	}
	if wt, ok := errors.AsType[*llm.WaitTimeout](err); ok {
		e.Kind, e.Message = llm.ErrTimeout, wt.Error()
	} else if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		e.Kind, e.Message = llm.ErrTimeout, "the provider did not answer in time"
	}
	return e
}

// HTTPError builds the error for a non-2xx answer.
func (c Call) HTTPError(status int, h http.Header, body []byte) *llm.Error {
	e := &llm.Error{Provider: c.Provider, Status: status}
	if c.Parse != nil {
		c.Parse(status, body, e)
	}
	e.Kind = refine(KindOf(status), e.Kind)
	e.Retryable = Retryable(e.Kind)
	e.RetryAfter = retryAfter(h)
	c.finishMessage(e)
	return e
}

// finishMessage makes e.Message client-safe: no key, bounded, never empty. A refused key gets a
// fixed text: the provider's message (which may echo part of the key) is not the client's business.
func (c Call) finishMessage(e *llm.Error) {
	switch e.Kind {
	case llm.ErrAuth:
		e.Message = "the provider rejected the configured API key"
		return
	}
	msg := Redact(strings.TrimSpace(e.Message), c.Key)
	if len(msg) > maxMessage {
		msg = strings.ToValidUTF8(msg[:maxMessage], "") + "…"
	}
	if msg == "" {
		if e.Status != 0 {
			msg = "the provider answered HTTP " + strconv.Itoa(e.Status)
			if t := http.StatusText(e.Status); t != "" {
				msg += " (" + t + ")"
			}
		} else {
			msg = "the provider reported an error"
		}
	}
	if e.Kind == llm.ErrPermission {
		msg = "the configured API key is not allowed to do this: " + msg
	}
	e.Message = msg
}

// refine combines the status's kind with the one the body's error type suggests. The status wins,
// except where the body says more: a refused key or an exhausted quota hide behind 400 and 429,
// and a generic 4xx is whatever the body says it is.
func refine(byStatus, byBody llm.ErrorKind) llm.ErrorKind {
	switch {
	case byBody == "":
		return byStatus
	case byBody == llm.ErrAuth || byBody == llm.ErrQuota:
		return byBody
	case byStatus == llm.ErrInvalidRequest:
		return byBody
	}
	return byStatus
}

// KindOf is the default classification of an HTTP status.
func KindOf(status int) llm.ErrorKind {
	switch {
	case status == http.StatusUnauthorized:
		return llm.ErrAuth
	case status == http.StatusForbidden:
		return llm.ErrPermission
	case status == http.StatusRequestTimeout:
		return llm.ErrTimeout
	case status == http.StatusTooManyRequests:
		return llm.ErrRateLimit
	case status == 529 || status == http.StatusServiceUnavailable:
		return llm.ErrOverloaded
	case status >= 500:
		return llm.ErrServer
	case status >= 400:
		return llm.ErrInvalidRequest
	}
	return llm.ErrServer // 1xx/3xx: redirects are not followed; the answer is unusable
}

// Retryable says whether the same request may succeed later, by kind.
func Retryable(k llm.ErrorKind) bool {
	switch k {
	case llm.ErrRateLimit, llm.ErrOverloaded, llm.ErrServer, llm.ErrTimeout, llm.ErrNetwork:
		return true
	}
	return false
}

// retryAfter reads Retry-After (seconds or an HTTP date) and OpenAI's retry-after-ms.
func retryAfter(h http.Header) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e9 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 && s < 1e6 {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// Redact removes key from s, and any masked rendering of a key ("sk-abcd****wxyz", as OpenAI
// echoes a wrong one).
func Redact(s, key string) string {
	if key != "" && strings.Contains(s, key) {
		s = strings.ReplaceAll(s, key, "[redacted]")
	}
	if !strings.Contains(s, "**") {
		return s
	}
	fields := strings.Fields(s)
	changed := false
	for i, f := range fields {
		if strings.Contains(f, "**") {
			fields[i] = "[redacted]"
			if strings.HasSuffix(f, ".") || strings.HasSuffix(f, ",") {
				fields[i] += f[len(f)-1:]
			}
			changed = true
		}
	}
	if !changed {
		return s
	}
	return strings.Join(fields, " ")
}

// ReadBody reads a 2xx response body, bounded, mapping failures to *llm.Error.
func (c Call) ReadBody(ctx context.Context, resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return nil, c.transportError(ctx, err, true)
	}
	if len(body) > MaxResponseBody {
		return nil, &llm.Error{Provider: c.Provider, Kind: llm.ErrMalformed, Message: "the provider's response is too large"}
	}
	return body, nil
}

// Malformed is the error for upstream bytes that are not the documented format. The bytes
// themselves are never quoted: they are conversation content.
func Malformed(provider string, inStream bool, cause error) *llm.Error {
	return &llm.Error{Provider: provider, Kind: llm.ErrMalformed, Message: "the provider sent a response that could not be parsed", InStream: inStream, Cause: cause}
}

// FinishUsage completes a non-streamed response's usage with flagged estimates for what the
// provider did not report.
func FinishUsage(u *llm.Usage, inputKnown, outputKnown bool, requestBytes, producedBytes int) {
	if !inputKnown {
		u.InputTokens = max(u.InputTokens, llm.EstimateTokens(requestBytes))
		u.InputEstimated = true
	}
	if !outputKnown {
		u.OutputTokens = max(u.OutputTokens, u.ReasoningTokens+llm.EstimateTokens(producedBytes))
		u.OutputEstimated = true
	}
}

// NewRequestParts is NewRequest for a body made of parts sent one after the other (n bytes in
// all), without joining them into one buffer first. GetBody lets the transport replay the body
// on a retried connection. ref, when non-nil, counts the parts' users: every body made (the
// first and each replay) holds a reference until the transport closes it.
func NewRequestParts(ctx context.Context, method, url string, parts [][]byte, n int, stream bool, ref Ref) (*http.Request, error) {
	req, err := NewRequest(ctx, method, url, nil, stream)
	if err != nil {
		return nil, err
	}
	req.Header["Content-Type"] = []string{"application/json"}
	req.ContentLength = int64(n)
	if n == 0 {
		req.Body = http.NoBody
		return req, nil
	}
	req.GetBody = func() (io.ReadCloser, error) {
		if ref != nil {
			ref.Hold()
		}
		return &partsReader{parts: slices.Clone(parts), ref: ref}, nil
	}
	req.Body, _ = req.GetBody()
	return req, nil
}
