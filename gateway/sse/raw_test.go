package sse

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestKeepRaw: the events' raw bytes, concatenated, are the stream itself, whatever the line
// endings and however the reads split it (one byte at a time splits every CRLF).
func TestKeepRaw(t *testing.T) {
	t.Parallel()
	streams := []string{
		"event: message_start\ndata: {\"a\":1}\n\n: comment\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
		"data: one\r\ndata: two\r\n\r\nid: 7\r\nretry: 10\r\ndata: x\r\n\r\n",
		"data: cr\r\rdata: mixed\n\r\n",
		": only a comment first\nevent: e\ndata:\n\n",
	}
	for _, s := range streams {
		for name, rd := range map[string]io.Reader{"whole": strings.NewReader(s), "bytewise": iotest.OneByteReader(strings.NewReader(s))} {
			r := NewReader(rd, 0)
			r.KeepRaw()
			var got bytes.Buffer
			for {
				ev, err := r.Next()
				if err == io.EOF {
					got.Write(r.Trailing())
					break
				}
				if err != nil {
					t.Fatalf("%s %q: %v", name, s, err)
				}
				got.Write(ev.Raw)
			}
			if got.String() != s {
				t.Fatalf("%s: raw bytes\n%q\nwant\n%q", name, got.String(), s)
			}
		}
	}
}

// TestKeepRawBounded: raw bytes between events are bounded like an event's data.
func TestKeepRawBounded(t *testing.T) {
	t.Parallel()
	r := NewReader(strings.NewReader(strings.Repeat(": keep-alive comment\n", 100)+"data: x\n\n"), 64)
	r.KeepRaw()
	if _, err := r.Next(); err != ErrEventTooLarge {
		t.Fatalf("err = %v", err)
	}
}
