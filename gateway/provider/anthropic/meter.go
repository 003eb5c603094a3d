package anthropic

import (
	"errors"

	"github.com/polydev/polydev/gateway/internal/jsonscan"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// meter reads usage from a relayed Messages answer: message_start gives the input side (cache
// reads and writes included) and a provisional output count, each message_delta the cumulative
// output count, message_stop completes the answer. Only those events are parsed; deltas are
// looked into just far enough to count the bytes produced, for the estimate of a stream cut
// before its message_delta.
type meter struct {
	sc          jsonscan.Scanner
	usage       llm.Usage
	inputKnown  bool
	outputKnown bool
	complete    bool
	produced    int
	reqBytes    int
}

var errBadUsage = errors.New("anthropic: usage is not an object")

func (m *meter) Event(ev sse.Event) (bool, error) {
	typ := ev.Type
	if typ == "" {
		typ = m.eventType(ev.Data)
	}
	switch typ {
	case "content_block_delta":
		m.produced += m.deltaBytes(ev.Data)
		m.outputKnown = false
	case "content_block_start":
		m.outputKnown = false
	case "message_start":
		u, err := m.findUsage(ev.Data, "message")
		if err != nil || u == nil {
			return true, nil
		}
		if u.applyInput(&m.usage) {
			m.inputKnown = true
		}
		m.usage.OutputTokens = val(u.OutputTokens) // provisional
	case "message_delta":
		u, err := m.findUsage(ev.Data, "")
		if err != nil || u == nil {
			return true, nil
		}
		if u.applyInput(&m.usage) {
			m.inputKnown = true
		}
		if u.OutputTokens != nil {
			m.usage.OutputTokens, m.outputKnown = *u.OutputTokens, true
		}
	case "message_stop":
		m.complete = true
	case "error":
		return true, streamError(ev.Data)
	}
	return true, nil
}

// eventType reads the type member of an event sent without an event: line.
func (m *meter) eventType(data []byte) string {
	m.sc.Reset(data)
	if !m.sc.Object() {
		return ""
	}
	for {
		key, ok := m.sc.Key()
		if !ok {
			return ""
		}
		if string(key) == "type" {
			return m.sc.String()
		}
		m.sc.Skip()
	}
}

// deltaBytes is the length of the text, thinking or tool-input fragment a content_block_delta
// carries.
func (m *meter) deltaBytes(data []byte) int {
	m.sc.Reset(data)
	if !m.sc.Object() {
		return 0
	}
	for {
		key, ok := m.sc.Key()
		if !ok {
			return 0
		}
		if string(key) != "delta" {
			m.sc.Skip()
			continue
		}
		if !m.sc.Object() {
			return 0
		}
		n := 0
		for {
			key, ok := m.sc.Key()
			if !ok {
				return n
			}
			switch string(key) {
			case "text", "partial_json", "thinking":
				b, _ := m.sc.Bytes()
				n += len(b)
			default:
				m.sc.Skip()
			}
		}
	}
}

// findUsage decodes the usage object of data (inside its member in, when in is not "").
func (m *meter) findUsage(data []byte, in string) (*wireUsage, error) {
	m.sc.Reset(data)
	if !m.sc.Object() {
		return nil, m.sc.Err()
	}
	for {
		key, ok := m.sc.Key()
		if !ok {
			return nil, m.sc.Err()
		}
		switch {
		case in != "" && string(key) == in:
			if !m.sc.Object() {
				return nil, m.sc.Err()
			}
			in = ""
		case in == "" && string(key) == "usage":
			return scanUsage(&m.sc)
		default:
			m.sc.Skip()
		}
	}
}

func (m *meter) Body(b []byte) error {
	m.complete = true
	m.produced = len(b)
	u, err := m.findUsage(b, "")
	if err != nil {
		return upstream.Malformed(Name, false, err)
	}
	if u != nil {
		m.inputKnown = u.applyInput(&m.usage)
		if u.OutputTokens != nil {
			m.usage.OutputTokens, m.outputKnown = *u.OutputTokens, true
		}
	}
	return nil
}

func (m *meter) Complete() bool { return m.complete }

func (m *meter) Usage() llm.Usage {
	u := m.usage
	u.Partial = !m.complete
	upstream.FinishUsage(&u, m.inputKnown, m.outputKnown, m.reqBytes, m.produced)
	return u
}
