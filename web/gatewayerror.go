package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

// ErrorWriter writes an error response in one surface's own shape: openai.WriteError,
// anthropic.WriteError, or a new surface's writer. Writers set the status, Retry-After and
// x-should-retry; they log nothing.
type ErrorWriter func(w http.ResponseWriter, err error)

// gatewayError is the one place where an error on a gateway surface (/v1/*, /api/chat/completions)
// becomes a response, as renderError is for the rest of the API: the failure is logged with the
// request id, then write renders it in the surface's shape. Every gateway handler, including new
// surfaces, ends a failed request here rather than calling its writer directly.
func (s *Server) gatewayError(w http.ResponseWriter, r *http.Request, write ErrorWriter, err error) {
	s.logGatewayFailure(r.Context(), httpStatusOf(err), err)
	s.refusals.note(infoFrom(r.Context()).userID, err, s.now()) // refused before the body next time
	write(w, err)
}

// logGatewayFailure logs why a gateway request failed: at error level when the failure is
// Polydev's own (a 5xx that is no upstream's: a database or vault error, with its cause), at warn
// for an upstream's failure, at debug for the client's own mistakes and for a client that left.
//
// Of an upstream failure only its provider, kind, status and type are logged, and for a network
// failure what broke (llm.NetCause): never its message (an upstream may quote the prompt, and in
// ephemeral mode no content may reach a log) nor the transport's error text (it holds the URL).
// Polydev's own errors never carry a key or a pd_ token.
func (s *Server) logGatewayFailure(ctx context.Context, status int, err error) {
	attrs := []slog.Attr{slog.String("request_id", requestIDFrom(ctx)), slog.Int("status", status)}
	level := slog.LevelDebug
	if e, ok := llm.AsError(err); ok {
		attrs = append(attrs, slog.String("provider", e.Provider), slog.String("kind", string(e.Kind)))
		if e.Status != 0 {
			attrs = append(attrs, slog.Int("upstream_status", e.Status))
		}
		if e.Type != "" {
			attrs = append(attrs, slog.String("upstream_type", e.Type))
		}
		if cause := llm.NetCause(e.Cause); cause != "" && (e.Kind == llm.ErrNetwork || e.Kind == llm.ErrTimeout) {
			attrs = append(attrs, slog.String("net", cause))
		}
		if e.InStream {
			attrs = append(attrs, slog.Bool("in_stream", true))
		}
		if e.Kind != llm.ErrCanceled && e.Kind != llm.ErrInvalidRequest {
			level = slog.LevelWarn
		}
		s.log.LogAttrs(ctx, level, "upstream failed", attrs...)
		return
	}
	code := polydev.ErrorCode(err)
	attrs = append(attrs, slog.String("code", code))
	switch {
	case errors.Is(err, context.Canceled):
		// the client went away
	case status >= 500:
		level = slog.LevelError
	}
	attrs = append(attrs, slog.Any("err", err))
	s.log.LogAttrs(ctx, level, "request failed", attrs...)
}
