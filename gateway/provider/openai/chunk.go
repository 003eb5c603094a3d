package openai

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/internal/jsonscan"
)

// chunk is one chat.completion.chunk as the decoder needs it, parsed without reflection (the
// error object, one per stream at most, goes through encoding/json).
type chunk struct {
	ID, Model string
	Choice    choiceDelta // choices[0]; other choices are ignored
	HasChoice bool
	Usage     *wireUsage
	Error     *wireError
}

type choiceDelta struct {
	Content   string
	Refusal   string
	ToolCalls []toolDelta
	Finish    string
}

type toolDelta struct {
	Index     int
	HasIndex  bool
	ID, Name  string
	Arguments string
}

// parser holds what is reused from chunk to chunk.
type parser struct {
	sc    jsonscan.Scanner
	c     chunk
	calls []toolDelta
}

// parse reads data into p.c. withMeta asks for id and model (only the first chunk needs them).
func (p *parser) parse(data []byte, withMeta bool) error {
	sc := &p.sc
	sc.Reset(data)
	p.c = chunk{}
	p.calls = p.calls[:0]
	c := &p.c
	if !sc.Object() {
		return sc.Err()
	}
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			if withMeta {
				c.ID = sc.StringOrNull()
			} else {
				sc.Skip()
			}
		case "model":
			if withMeta {
				c.Model = sc.StringOrNull()
			} else {
				sc.Skip()
			}
		case "choices":
			if sc.Null() {
				continue
			}
			sc.Array()
			for sc.Elem() {
				p.choice()
			}
		case "usage":
			if sc.Null() {
				continue
			}
			c.Usage = new(wireUsage)
			c.Usage.parse(sc)
		case "error":
			if raw := sc.Skip(); len(raw) > 0 && string(raw) != "null" {
				c.Error = new(wireError)
				if err := json.Unmarshal(raw, c.Error); err != nil {
					return err
				}
			}
		default:
			sc.Skip()
		}
	}
	if err := sc.End(); err != nil {
		return err
	}
	c.Choice.ToolCalls = p.calls
	return nil
}

// choice reads one element of choices; only index 0 is kept.
func (p *parser) choice() {
	sc := &p.sc
	var d choiceDelta
	index := 0
	calls := len(p.calls)
	if !sc.Object() {
		return
	}
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		switch string(key) {
		case "index":
			index = sc.Int()
		case "delta":
			if sc.Null() {
				continue
			}
			p.delta(&d)
		case "finish_reason":
			d.Finish = finishReason(sc)
		default:
			sc.Skip()
		}
	}
	if index != 0 || p.c.HasChoice {
		p.calls = p.calls[:calls]
		return
	}
	p.c.HasChoice = true
	d.ToolCalls = nil
	p.c.Choice = d
}

// finishReason reads a finish_reason without allocating for the values OpenAI uses.
func finishReason(sc *jsonscan.Scanner) string {
	if sc.Null() {
		return ""
	}
	b, _ := sc.Bytes()
	switch string(b) {
	case "stop":
		return "stop"
	case "length":
		return "length"
	case "tool_calls":
		return "tool_calls"
	case "content_filter":
		return "content_filter"
	}
	return string(b)
}

func (p *parser) delta(d *choiceDelta) {
	sc := &p.sc
	if !sc.Object() {
		return
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return
		}
		switch string(key) {
		case "content":
			d.Content = sc.StringOrNull()
		case "refusal":
			d.Refusal = sc.StringOrNull()
		case "tool_calls":
			if sc.Null() {
				continue
			}
			sc.Array()
			for sc.Elem() {
				p.toolCall()
			}
		default:
			sc.Skip()
		}
	}
}

func (p *parser) toolCall() {
	sc := &p.sc
	var t toolDelta
	if !sc.Object() {
		return
	}
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		switch string(key) {
		case "index":
			t.Index, t.HasIndex = sc.Int(), true
		case "id":
			t.ID = sc.StringOrNull()
		case "function":
			function(sc, &t.Name, &t.Arguments)
		default:
			sc.Skip()
		}
	}
	p.calls = append(p.calls, t)
}

// function reads a tool call's {"name", "arguments"} object (null: nothing), in a streamed delta or
// a whole answer alike.
func function(sc *jsonscan.Scanner, name, arguments *string) {
	if sc.Null() || !sc.Object() {
		return
	}
	for {
		key, ok := sc.Key()
		if !ok {
			return
		}
		switch string(key) {
		case "name":
			*name = sc.StringOrNull()
		case "arguments":
			*arguments = sc.StringOrNull()
		default:
			sc.Skip()
		}
	}
}
