package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/router"
)

// awaitStream runs open, which returns once a streamed call's upstream answered with its headers
// (failing over between keys meanwhile, for up to the first-byte timeout per key), and keeps the
// client alive while it waits. Until a heartbeat interval has passed nothing is written, so quick
// failures keep their own status (429, 400, 504, ...). After that, once the call is admitted, the
// 200 and the stream's headers are committed and the shape's keep-alive (Anthropic's ping event,
// an SSE comment elsewhere) is sent every interval: proxies and clients with read timeouts of
// their own keep the connection while a slow upstream takes its time.
//
// It returns the writer to relay through (after a commit, one whose WriteHeader does nothing: the
// relays' own commit is then already done) and whether the response was committed. When open
// fails after a commit, the caller reports the error in the stream (shape.errorFrame).
func (s *Server) awaitStream(w http.ResponseWriter, call *router.Call, shape rawShape, open func() error) (http.ResponseWriter, bool, error) {
	every := s.cfg.StreamHeartbeat
	if every <= 0 {
		return w, false, open()
	}
	// open runs on the handler's goroutine (its stack already grown; a fresh goroutine per stream
	// cost a start, a hand-off back and several stack growths through the upstream call), and the
	// keep-alives come from a timer's function. The mutex orders the two writers: once open has
	// returned and stopped is set, no tick writes again, and one in progress has finished.
	admitted := make(chan struct{})
	call.OnAdmit = func() { close(admitted) }
	hb := &heartbeat{w: w, call: call, frame: shape.heartbeatFrame, every: every, admitted: admitted}
	hb.mu.Lock()
	hb.timer = time.AfterFunc(every, hb.tick)
	hb.mu.Unlock()
	err := open()
	hb.mu.Lock()
	hb.stopped = true
	hb.timer.Stop()
	committed := hb.committed
	hb.mu.Unlock()
	if committed {
		return committedWriter{w}, true, err
	}
	return w, false, err
}

// heartbeat writes a waiting stream's keep-alives (see awaitStream).
type heartbeat struct {
	w        http.ResponseWriter
	call     *router.Call
	frame    []byte
	every    time.Duration
	admitted <-chan struct{}

	mu        sync.Mutex
	timer     *time.Timer
	stopped   bool
	committed bool
}

func (hb *heartbeat) tick() {
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if hb.stopped {
		return
	}
	defer hb.timer.Reset(hb.every)
	select {
	case <-hb.admitted:
	default: // still admitting: headers (X-Polydev-Ephemeral) are not known yet
		return
	}
	w := hb.w
	if !hb.committed {
		setEphemeralHeader(w, hb.call)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		hb.committed = true
	}
	frame := hb.frame
	if frame == nil {
		frame = []byte(": ping\n\n")
	}
	// A client that went away cancels the request's context, which ends open.
	if _, err := w.Write(frame); err == nil {
		_ = http.NewResponseController(w).Flush()
	}
}

// committedWriter is a ResponseWriter whose headers are already sent: the relays' WriteHeader is
// a no-op instead of net/http's "superfluous WriteHeader" complaint.
type committedWriter struct{ http.ResponseWriter }

func (committedWriter) WriteHeader(int) {}

// Unwrap lets http.ResponseController reach the real writer (Flush).
func (c committedWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// streamShape is the keep-alive and error framing of a translated surface's streams, as the
// passthrough path of the same wire format writes them; ok is false for a surface whose streams
// are no SSE (Gemini's JSON array) or that early heartbeats do not cover.
func streamShape(surface string) (rawShape, bool) {
	switch surface {
	case "openai", "chat":
		return openaiRaw, true
	case "anthropic":
		return anthropicRaw, true
	case "responses":
		return responsesRaw, true
	}
	return rawShape{}, false
}

// openStream opens a translated surface's stream through awaitStream when the surface's streams
// are SSE, directly otherwise.
func (s *Server) openStream(w http.ResponseWriter, call *router.Call, surface string, open func() error) (http.ResponseWriter, bool, error) {
	if shape, ok := streamShape(surface); ok {
		return s.awaitStream(w, call, shape, open)
	}
	return w, false, open()
}

// failOpen ends a call whose upstream never answered: in the surface's error shape with its
// status when nothing was written yet, else as an error event (errorFrame) in the already
// committed stream.
func (s *Server) failOpen(w http.ResponseWriter, r *http.Request, call *router.Call, sf surface, committed bool, errorFrame func(error) []byte, err error) {
	if !committed {
		call.Finish(llm.Usage{}, err, httpStatusOf(err))
		s.gatewayError(w, r, sf.writeErr, err)
		return
	}
	call.Finish(llm.Usage{}, err, http.StatusOK)
	s.logGatewayFailure(r.Context(), httpStatusOf(err), err)
	if _, werr := w.Write(errorFrame(err)); werr == nil {
		_ = http.NewResponseController(w).Flush()
	}
}
