package wire_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/anthropic"
	"github.com/polydev/polydev/gateway/inbound/openai"
	"github.com/polydev/polydev/gateway/llm"
)

// limitRefusal is a refusal as the limiters return it.
func limitRefusal(limit string, retryAfter time.Duration) error {
	le := &polydev.LimitError{Limit: limit, Scope: "your tier", RetryAfter: retryAfter}
	return &polydev.Error{Code: le.Code(), Message: le.Error(), Cause: le}
}

// TestErrorSignals: the status, type, x-should-retry and Retry-After of each kind of failure, in
// OpenAI's shape and in Anthropic's (billing_error for a spent budget, 529 for overload), from
// one table. x-should-retry: false wherever sending the same request again cannot succeed.
func TestErrorSignals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name              string
		err               error
		status            int
		openai, anthropic string // error.type in each shape
		shouldRetry       string
		retryAfter        string
	}{
		{"bad request", polydev.Errorf(polydev.EINVALID, "model: required"), 400, "invalid_request_error", "invalid_request_error", "false", ""},
		{"wrong pd_ token", polydev.Errorf(polydev.EUNAUTHORIZED, "invalid API token"), 401, "authentication_error", "authentication_error", "false", ""},
		{"budget spent", limitRefusal("monthly_budget", 0), 402, "insufficient_quota", "billing_error", "false", ""},
		{"model not on tier", polydev.Errorf(polydev.EFORBIDDEN, "not on the free tier"), 403, "permission_error", "permission_error", "false", ""},
		{"unknown model", polydev.Errorf(polydev.ENOTFOUND, "no such model"), 404, "not_found_error", "not_found_error", "false", ""},
		{"body too large", polydev.Errorf(polydev.ETOOLARGE, "too large"), 413, "invalid_request_error", "request_too_large", "false", ""},
		{"per-minute limit", limitRefusal("tier_requests_per_minute", 17*time.Second), 429, "rate_limit_error", "rate_limit_error", "true", "17"},
		{"concurrency", limitRefusal("concurrency", polydev.ConcurrencyRetryAfter), 429, "rate_limit_error", "rate_limit_error", "true", "1"},
		{"daily limit", limitRefusal("tier_requests_per_day", 5*time.Hour+100*time.Millisecond), 429, "rate_limit_error", "rate_limit_error", "false", "18001"},
		{"database down", polydev.Wrap(polydev.EUNAVAILABLE, nil, "try later"), 503, "api_error", "api_error", "", ""},
		{"internal", errors.New("disk full"), 500, "api_error", "api_error", "", ""},
		{"upstream invalid", &llm.Error{Provider: "openai", Kind: llm.ErrInvalidRequest, Status: 422, Message: "bad"}, 422, "invalid_request_error", "invalid_request_error", "false", ""},
		{"upstream key refused", &llm.Error{Provider: "openai", Kind: llm.ErrAuth, Status: 401, Message: "key"}, 502, "server_error", "api_error", "false", ""},
		{"upstream quota", &llm.Error{Provider: "openai", Kind: llm.ErrQuota, Status: 429, Message: "no credit"}, 429, "insufficient_quota", "rate_limit_error", "false", ""},
		{"upstream rate limit", &llm.Error{Provider: "openai", Kind: llm.ErrRateLimit, Status: 429, Message: "wait", Retryable: true, RetryAfter: 3 * time.Second}, 429, "rate_limit_error", "rate_limit_error", "true", "3"},
		{"upstream down", &llm.Error{Provider: "openai", Kind: llm.ErrNetwork, Message: "could not reach", Retryable: true}, 502, "server_error", "api_error", "true", ""},
	}
	shapes := []struct {
		name  string
		write func(http.ResponseWriter, error)
		typ   func(c int) string
	}{
		{"openai", openai.WriteError, func(i int) string { return cases[i].openai }},
		{"anthropic", anthropic.WriteError, func(i int) string { return cases[i].anthropic }},
	}
	for _, sh := range shapes {
		for i, c := range cases {
			rec := httptest.NewRecorder()
			sh.write(rec, c.err)
			var body struct {
				Type  string
				Error struct{ Message, Type string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("%s %s: %v", sh.name, c.name, err)
			}
			h, want := rec.Header(), sh.typ(i)
			if rec.Code != c.status || body.Error.Type != want || sh.name == "anthropic" && body.Type != "error" ||
				h.Get("X-Should-Retry") != c.shouldRetry || h.Get("Retry-After") != c.retryAfter {
				t.Errorf("%s %s: %d %s x-should-retry=%q retry-after=%q, want %d %s %q %q", sh.name, c.name, rec.Code, body.Error.Type,
					h.Get("X-Should-Retry"), h.Get("Retry-After"), c.status, want, c.shouldRetry, c.retryAfter)
			}
		}
	}
}

// TestOverloadSignal: an overloaded upstream is Anthropic's 529, which a client may retry.
func TestOverloadSignal(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	anthropic.WriteError(rec, &llm.Error{Provider: "anthropic", Kind: llm.ErrOverloaded, Status: 529, Message: "Overloaded", Retryable: true})
	if rec.Code != 529 || rec.Header().Get("X-Should-Retry") != "true" {
		t.Fatalf("%d x-should-retry=%q", rec.Code, rec.Header().Get("X-Should-Retry"))
	}
}
