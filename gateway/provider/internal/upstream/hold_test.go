package upstream

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/sse"
)

// TestHoldUntilContent: the held bytes are replayed exactly, then the rest; an error event or a
// stream that ends before content fails the attempt (failover possible); answers that are not event
// streams, and starts longer than HoldLimit, are handed on untouched.
func TestHoldUntilContent(t *testing.T) {
	t.Parallel()
	errOverloaded := &llm.Error{Provider: "p", Kind: llm.ErrOverloaded, Retryable: true, InStream: true}
	classify := func(ev sse.Event) (bool, error) {
		switch ev.Type {
		case "start", "ping":
			return false, nil
		case "error":
			return false, errOverloaded
		}
		return true, nil
	}
	resp := func(ct, body string) *http.Response {
		return &http.Response{Header: http.Header{"Content-Type": {ct}}, Body: io.NopCloser(strings.NewReader(body))}
	}
	const sseCT = "text/event-stream; charset=utf-8"
	long := "event: ping\r\ndata: {}\r\n\r\n" + strings.Repeat(": keep-alive comment\n\n", HoldLimit/20) + "event: error\ndata: {}\n\n"
	for _, c := range []struct {
		name, ct, body string
		err            error
		kind           llm.ErrorKind
	}{
		{"content", sseCT, "event: start\ndata: {\"a\":1}\n\nevent: ping\r\ndata: {}\r\n\r\nevent: delta\ndata: {\"t\":\"x\"}\n\nevent: stop\ndata: {}\n\n", nil, ""},
		{"error before content", sseCT, "event: start\ndata: {}\n\nevent: error\ndata: {}\n\nevent: delta\ndata: {}\n\n", errOverloaded, ""},
		{"ends before content", sseCT, "event: start\ndata: {}\n\n", nil, llm.ErrNetwork},
		{"not a stream", "application/json", `{"type":"error"}`, nil, ""},
		{"long start", sseCT, long, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := HoldUntilContent(t.Context(), "p", resp(c.ct, c.body), classify)
			switch {
			case c.err != nil:
				if !errors.Is(err, c.err) || got != nil {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			case c.kind != "":
				e, ok := llm.AsError(err)
				if !ok || e.Kind != c.kind || !e.Retryable || !e.Failover() {
					t.Fatalf("err %v, want a retryable %s", err, c.kind)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			b, err := io.ReadAll(got.Body)
			if err != nil || string(b) != c.body {
				t.Fatalf("replayed %q (%v), want %q", b, err, c.body)
			}
		})
	}
}
