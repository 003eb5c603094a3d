package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/polydev/polydev"
)

// handlerFunc is an HTTP handler that returns its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc, rendering any error in the one place errors are rendered.
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.renderError(w, r, err)
		}
	}
}

// reqInfo travels in the request context so that inner layers can tell the access log who the caller
// was; it is a pointer so that they can fill it in after the log middleware put it there.
type reqInfo struct {
	id     string
	userID string
}

type ctxKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	if i, ok := ctx.Value(ctxKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

func requestIDFrom(ctx context.Context) string { return infoFrom(ctx).id }

// middleware wraps the mux: request id, security headers, panic recovery, access log, metrics and
// JSON rendering of the mux's own 404/405 answers.
func (s *Server) middleware(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		serving(r.Context())
		if r.ContentLength != 0 {
			// Every body must arrive within BodyReadTimeout, also one its handler never reads (a
			// refusal): net/http reads up to 256 KiB of it after the handler to keep the
			// connection. Handlers that read bodies set their own deadline and clear it after.
			_ = http.NewResponseController(w).SetReadDeadline(start.Add(s.cfg.BodyReadTimeout))
		}
		info := &reqInfo{id: requestID(r.Header.Get("X-Request-Id"))}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, info))
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		// Canonical keys set directly, the four values in one allocation (h.Set makes one each).
		vals := [...]string{info.id, "nosniff", "no-referrer", "DENY"}
		v := vals[:]
		h := rec.Header()
		h["X-Request-Id"] = v[0:1:1]
		h["X-Content-Type-Options"] = v[1:2:2]
		h["Referrer-Policy"] = v[2:3:3]
		h["X-Frame-Options"] = v[3:4:4]

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "request_id", info.id, "panic", v, "stack", string(debug.Stack()))
				if !rec.wroteHeader {
					s.renderError(rec, r, polydev.Errorf(polydev.EINTERNAL, "internal error"))
				}
			}
			s.observe(r, rec, info, time.Since(start))
		}()

		if _, pattern := mux.Handler(r); pattern == "" {
			// No route: let the mux decide between 404 and 405 (it sets Allow), then speak JSON.
			mux.ServeHTTP(&jsonFallback{recorder: rec, s: s, r: r}, r)
			return
		}
		mux.ServeHTTP(rec, r)
	})
}

// observe writes the access log line and the metrics. It never logs query strings, headers or bodies:
// they may carry secrets.
func (s *Server) observe(r *http.Request, rec *recorder, info *reqInfo, d time.Duration) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.metrics.observe(r.Method, route, rec.status, d.Seconds())
	attrs := make([]slog.Attr, 0, 9) // on the stack, user_id included
	attrs = append(attrs,
		slog.String("request_id", info.id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", route),
		slog.Int("status", rec.status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", d),
		slog.String("remote", s.clientIP(r)),
	)
	if info.userID != "" {
		attrs = append(attrs, slog.String("user_id", info.userID))
	}
	// The record is built here rather than by LogAttrs, which takes the caller's frame with
	// runtime.Callers for every line (a few µs per request) though no handler prints the source.
	ctx := r.Context()
	if h := s.log.Handler(); h.Enabled(ctx, slog.LevelInfo) {
		rec := slog.NewRecord(time.Now(), slog.LevelInfo, "http", 0)
		rec.AddAttrs(attrs...)
		_ = h.Handle(ctx, rec)
	}
}

// requestID keeps a caller's id when it is short and plain (so logs can be joined across systems) and
// otherwise makes a new one, so that nothing odd is ever echoed into logs or headers.
func requestID(given string) string {
	if n := len(given); n > 0 && n <= 64 {
		ok := true
		for i := 0; i < n && ok; i++ {
			c := given[i]
			ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
		}
		if ok {
			return given
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// clientIP is the address of the client: the connection's peer, or, when the peer is a trusted
// proxy, the last X-Forwarded-For address that is not itself a trusted proxy (each proxy appends
// the address it received the request from, so addresses left of the last untrusted one may be
// forged by the client).
func (s *Server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !s.trustedProxy(peer) {
		return host
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return peer.String() // a garbled hop: nothing left of it can be trusted
			}
			a = a.Unmap()
			if !s.trustedProxy(a) {
				return a.String()
			}
			peer = a
		}
	}
	return peer.String()
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// recorder remembers the status and size of a response for logs and metrics.
type recorder struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and deadlines of the real writer (streaming needs it).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// jsonFallback turns the mux's plain-text 404 and 405 into the JSON error shape.
type jsonFallback struct {
	*recorder
	s       *Server
	r       *http.Request
	handled bool
}

func (j *jsonFallback) WriteHeader(code int) {
	if j.handled {
		return
	}
	j.handled = true
	switch code {
	case http.StatusMethodNotAllowed:
		writeErrorBody(j.recorder, code, ErrorBody{Error: ErrorDetail{
			Message: j.r.Method + " is not allowed here", Type: "invalid_request_error", Code: "method_not_allowed"}})
	default:
		j.s.renderError(j.recorder, j.r, polydev.Errorf(polydev.ENOTFOUND, "no such endpoint: %s %s", j.r.Method, j.r.URL.Path))
	}
}

func (j *jsonFallback) Write(b []byte) (int, error) {
	if !j.handled {
		j.WriteHeader(http.StatusOK)
	}
	return len(b), nil // the mux's plain-text body is dropped
}
