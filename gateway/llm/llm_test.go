package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/polydev/polydev"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	u := Usage{InputTokens: 1000, CacheReadTokens: 700, CacheWriteTokens: 200, OutputTokens: 50, ReasoningTokens: 20}
	if u.UncachedInputTokens() != 100 || u.TotalTokens() != 1050 || u.Estimated() {
		t.Errorf("%+v", u)
	}
	if (Usage{InputTokens: 5, CacheReadTokens: 9}).UncachedInputTokens() != 0 {
		t.Error("negative uncached input")
	}
	for n, want := range map[int]int{-1: 0, 0: 0, 1: 1, 4: 1, 5: 2, 400: 100} {
		if got := EstimateTokens(n); got != want {
			t.Errorf("EstimateTokens(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestJoinTextAndToolName(t *testing.T) {
	t.Parallel()
	parts := []Part{TextPart("a"), {Kind: PartImage, Image: &Image{URL: "u"}}, TextPart("b")}
	if JoinText(parts, "\n") != "a\nb" || JoinText(parts[:1], "-") != "a" || JoinText(nil, "-") != "" {
		t.Error("JoinText")
	}
	msgs := []Message{
		{Role: RoleAssistant, Content: []Part{{Kind: PartToolCall, ToolCall: &ToolCall{ID: "c", Name: "old"}}}},
		{Role: RoleAssistant, Content: []Part{{Kind: PartToolCall, ToolCall: &ToolCall{ID: "c", Name: "new"}}}},
		{Role: RoleTool},
	}
	if ToolName(msgs, 2, "c") != "new" || ToolName(msgs, 1, "c") != "old" || ToolName(msgs, 2, "x") != "" || ToolName(msgs, 99, "c") != "new" {
		t.Error("ToolName")
	}
}

func TestError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		e        Error
		status   int
		code     string
		failover bool
	}{
		{Error{Kind: ErrInvalidRequest, Status: 400}, 400, polydev.EINVALID, false},
		{Error{Kind: ErrInvalidRequest, Status: 404}, 404, polydev.ENOTFOUND, false},
		{Error{Kind: ErrInvalidRequest, Status: 413}, 413, polydev.ETOOLARGE, false},
		{Error{Kind: ErrInvalidRequest}, 400, polydev.EINVALID, false},
		{Error{Kind: ErrAuth, Status: 401}, 502, polydev.EUNAVAILABLE, true},
		{Error{Kind: ErrPermission, Status: 403}, 502, polydev.EUNAVAILABLE, true},
		{Error{Kind: ErrRateLimit, Status: 429}, 429, polydev.ERATELIMIT, true},
		{Error{Kind: ErrQuota, Status: 429}, 429, polydev.ERATELIMIT, true},
		{Error{Kind: ErrOverloaded, Status: 529}, 503, polydev.EUNAVAILABLE, true},
		{Error{Kind: ErrServer, Status: 500}, 502, polydev.EUNAVAILABLE, true},
		{Error{Kind: ErrTimeout}, 504, polydev.EUNAVAILABLE, true},
		{Error{Kind: ErrNetwork}, 502, polydev.EUNAVAILABLE, true},
		{Error{Kind: ErrMalformed}, 502, polydev.EUNAVAILABLE, true},
		{Error{Kind: ErrCanceled}, 499, polydev.EUNAVAILABLE, false},
	}
	for _, c := range cases {
		if c.e.HTTPStatus() != c.status || c.e.Code() != c.code || c.e.Failover() != c.failover {
			t.Errorf("%s: status %d code %s failover %v", c.e.Kind, c.e.HTTPStatus(), c.e.Code(), c.e.Failover())
		}
	}
	e := &Error{Provider: "openai", Kind: ErrRateLimit, Status: http.StatusTooManyRequests, Type: "requests", Message: "slow down", Cause: errors.New("cause")}
	if got := e.Error(); got != "openai: rate_limit (HTTP 429) requests: slow down: cause" {
		t.Errorf("Error() = %q", got)
	}
	wrapped := fmt.Errorf("call: %w", e)
	if got, ok := AsError(wrapped); !ok || got != e {
		t.Error("AsError through a wrap")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if c := Canceled(ctx, "x", true); c.Kind != ErrCanceled || !errors.Is(c, context.Canceled) || !c.InStream {
		t.Errorf("%+v", c)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-ctx.Done()
	if c := Canceled(ctx, "x", false); c.Kind != ErrTimeout || !errors.Is(c, context.DeadlineExceeded) {
		t.Errorf("%+v", c)
	}
}
