package upstream

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/polydev/polydev/gateway/llm"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	key := "sk-proj-abcdefghijklmnop1234"
	for in, want := range map[string]string{
		"Incorrect API key provided: " + key + ".":                         "Incorrect API key provided: [redacted].",
		"Incorrect API key provided: sk-proj-********************1234. Go": "Incorrect API key provided: [redacted]. Go",
		"nothing secret here":                         "nothing secret here",
		"bold **text** is a false positive, and fine": "bold [redacted] is a false positive, and fine",
	} {
		if got := Redact(in, key); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHTTPError(t *testing.T) {
	t.Parallel()
	c := Call{Provider: "p", Key: "secret-key-value", Parse: func(status int, body []byte, e *llm.Error) {
		e.Message = string(body)
	}}
	long := strings.Repeat("é", 1000)
	cases := []struct {
		status int
		header http.Header
		body   string
		kind   llm.ErrorKind
		retry  time.Duration
	}{
		{429, http.Header{"Retry-After": {"3"}}, "slow", llm.ErrRateLimit, 3 * time.Second},
		{429, http.Header{"Retry-After-Ms": {"250"}}, "slow", llm.ErrRateLimit, 250 * time.Millisecond},
		{503, http.Header{"Retry-After": {"garbage"}}, "", llm.ErrOverloaded, 0},
		{408, nil, "", llm.ErrTimeout, 0},
		{302, nil, "", llm.ErrServer, 0},
		{422, nil, long, llm.ErrInvalidRequest, 0},
		{400, nil, "your key secret-key-value is wrong", llm.ErrInvalidRequest, 0},
	}
	for _, tc := range cases {
		e := c.HTTPError(tc.status, tc.header, []byte(tc.body))
		if e.Kind != tc.kind || e.RetryAfter != tc.retry || e.Message == "" || len(e.Message) > maxMessage+4 || strings.Contains(e.Error(), c.Key) {
			t.Errorf("%d: %+v", tc.status, e)
		}
	}
}
