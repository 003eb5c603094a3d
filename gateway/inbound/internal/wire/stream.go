package wire

import (
	"net/http"
	"time"

	"github.com/polydev/polydev/gateway/sse"
)

// Stream is what every inbound shape's stream writer shares: the response, the SSE writer over it,
// whether the 200 went out, and the heartbeat. Embed it; a shape with other framing (Gemini's JSON
// array) overrides Heartbeat and commits its own headers.
type Stream struct {
	W        http.ResponseWriter
	SW       *sse.Writer
	HeaderOK bool // the 200 and stream headers were sent
}

// NewStream starts a Stream over w.
func NewStream(w http.ResponseWriter) Stream { return Stream{W: w, SW: sse.NewWriter(w)} }

// Heartbeat commits the 200 now and sends an SSE comment whenever the stream is idle for every
// (clients skip comments); errors before content then arrive in-stream. Call Stop before the
// handler returns.
func (s *Stream) Heartbeat(every time.Duration) error {
	s.Commit()
	if err := s.SW.Send(nil); err != nil {
		return err
	}
	s.SW.Heartbeat(every)
	return nil
}

// Stop ends the heartbeat; nothing is written afterwards.
func (s *Stream) Stop() { s.SW.Stop() }

// SSE is the writer under s (StreamRenderer).
func (s *Stream) SSE() *sse.Writer { return s.SW }

// Commit sends the 200 with the event-stream headers, once.
func (s *Stream) Commit() {
	if s.HeaderOK {
		return
	}
	s.HeaderOK = true
	StreamHeaders(s.W.Header())
	s.W.WriteHeader(http.StatusOK)
}
