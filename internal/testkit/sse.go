package testkit

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Event is one server-sent event.
type Event struct {
	Event string // the event: field; "" for an unnamed (message) event
	Data  string // the data: lines, joined with "\n"
	ID    string
}

// ErrUnterminatedEvent means an event stream ended inside an event (no
// blank line after it), which a conforming client silently drops.
var ErrUnterminatedEvent = errors.New("testkit: event stream ends inside an event")

// ParseSSE parses a complete text/event-stream body by the WHATWG rules:
// lines end in LF, CRLF or CR; one space after the colon is optional;
// comment lines are skipped; several data lines join with "\n"; an event
// without data is not dispatched. It is strict where a test wants to know:
// a body that ends inside an event returns the events before it and
// ErrUnterminatedEvent.
func ParseSSE(body []byte) ([]Event, error) {
	body = bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))
	var (
		events  []Event
		cur     Event
		data    strings.Builder
		hasData bool
		pending bool // a field was seen since the last dispatch
	)
	for len(body) > 0 {
		i := bytes.IndexAny(body, "\r\n")
		if i < 0 {
			return events, fmt.Errorf("%w: unterminated line %q", ErrUnterminatedEvent, body)
		}
		line := body[:i]
		if body[i] == '\r' && i+1 < len(body) && body[i+1] == '\n' {
			body = body[i+2:]
		} else {
			body = body[i+1:]
		}
		if len(line) == 0 {
			if hasData {
				cur.Data = data.String()
				events = append(events, cur)
			}
			cur, hasData, pending = Event{}, false, false
			data.Reset()
			continue
		}
		pending = true
		if line[0] == ':' {
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "event":
			cur.Event = string(value)
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			hasData = true
		case "id":
			cur.ID = string(value)
		}
	}
	if pending {
		return events, ErrUnterminatedEvent
	}
	return events, nil
}
