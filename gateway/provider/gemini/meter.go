package gemini

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// meter reads usage from a relayed generateContent answer: every chunk carries usageMetadata
// (the final numbers on the last, the one with finishReason), so the meter keeps the latest and
// counts the bytes of text and calls produced, for the estimate of a stream cut before its end.
// The answer is complete at the chunk with a finishReason (or a blocked prompt's feedback).
type meter struct {
	p           parser
	usage       llm.Usage
	inputKnown  bool
	outputKnown bool
	complete    bool
	produced    int
	reqBytes    int
}

// chunk reads one GenerateContentResponse: upErr is the provider's error object when the chunk is
// one, err says the chunk is not the documented format.
func (m *meter) chunk(data []byte) (upErr *llm.Error, err error) {
	if err := m.p.parse(data, false); err != nil {
		return nil, err
	}
	c := &m.p.c
	if c.Error != nil {
		return streamError(c.Error), nil
	}
	for i := range c.Parts {
		p := &c.Parts[i]
		m.produced += len(p.Text)
		if p.Call != nil {
			m.produced += len(p.Call.Name) + len(p.Call.Args)
		}
	}
	if c.HasUsage {
		in, out := c.Usage.apply(&m.usage)
		m.inputKnown = m.inputKnown || in
		m.outputKnown = out
	} else if len(c.Parts) > 0 {
		m.outputKnown = false
	}
	if c.Finish != "" || c.BlockReason != "" {
		m.complete = true
	}
	return nil, nil
}

// Event implements provider.Meter.
func (m *meter) Event(ev sse.Event) (bool, error) {
	upErr, _ := m.chunk(ev.Data) // a chunk that is not JSON is relayed all the same, billed by estimate
	if upErr != nil {
		return true, upErr
	}
	return true, nil
}

// Body implements provider.Meter: one response, or the JSON array a stream without alt=sse is.
func (m *meter) Body(b []byte) error {
	defer func() { m.complete = true }()
	if i := firstByte(b); i >= 0 && b[i] == '[' {
		var chunks []json.RawMessage
		if err := json.Unmarshal(b, &chunks); err != nil {
			m.produced = len(b)
			return upstream.Malformed(Name, false, err)
		}
		for _, c := range chunks {
			if _, bad := m.chunk(c); bad != nil {
				return upstream.Malformed(Name, false, bad)
			}
		}
		return nil
	}
	if _, bad := m.chunk(b); bad != nil {
		m.produced = len(b)
		return upstream.Malformed(Name, false, bad)
	}
	return nil
}

func firstByte(b []byte) int {
	for i, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return i
		}
	}
	return -1
}

// Complete implements provider.Meter.
func (m *meter) Complete() bool { return m.complete }

// Usage implements provider.Meter.
func (m *meter) Usage() llm.Usage {
	u := m.usage
	u.Partial = !m.complete
	upstream.FinishUsage(&u, m.inputKnown, m.outputKnown, m.reqBytes, m.produced)
	return u
}
