package openai

import (
	"bytes"
	"encoding/json"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/passthrough"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// Chat Completions passthrough: the client's body goes to /chat/completions as written (the
// model already rewritten; max_tokens or max_completion_tokens as the client wrote it), with one
// permitted change: a streamed request that does not ask for usage gets
// stream_options.include_usage true, because usage must be exact, and the meter then keeps the
// usage-only chunk from that client.

// usageAsked reports whether a chat body sets stream_options.include_usage to true.
func usageAsked(body []byte) bool {
	s, e, ok := passthrough.Member(body, "stream_options")
	if !ok {
		return false
	}
	var so struct {
		IncludeUsage bool `json:"include_usage"`
	}
	return json.Unmarshal(body[s:e], &so) == nil && so.IncludeUsage
}

// chatParts is what to send for r: its parts as they are, or for a stream whose client did not
// ask for usage, one body (a copy) with stream_options.include_usage true.
func chatParts(r *provider.RawRequest) ([][]byte, int) {
	if !r.Stream || usageAsked(r.Body) {
		return r.Parts(), r.Len()
	}
	body := withIncludeUsage(bytes.Join(r.Parts(), nil))
	return [][]byte{body}, len(body)
}

// withIncludeUsage sets stream_options.include_usage to true in a chat body: the member inserted
// first when absent, or set inside the client's stream_options (the rest of it kept).
func withIncludeUsage(body []byte) []byte {
	s, e, ok := passthrough.Member(body, "stream_options")
	if !ok {
		// Insert the member first: after the object's opening brace.
		open := 0
		for open < len(body) && body[open] != '{' {
			open++
		}
		if open == len(body) {
			return body // not an object: the upstream refuses it as it is
		}
		member := `"stream_options":{"include_usage":true}`
		rest := body[open+1:]
		out := make([]byte, 0, len(body)+len(member)+1)
		out = append(out, body[:open+1]...)
		out = append(out, member...)
		if !onlySpaceThenClose(rest) {
			out = append(out, ',')
		}
		return append(out, rest...)
	}
	opts := map[string]json.RawMessage{}
	if string(body[s:e]) != "null" && json.Unmarshal(body[s:e], &opts) != nil {
		return body // not an object: the upstream refuses it as it is
	}
	opts["include_usage"] = json.RawMessage("true")
	val, _ := json.Marshal(opts) // raw messages from a successful Unmarshal always marshal
	out := make([]byte, 0, len(body)-(e-s)+len(val))
	out = append(out, body[:s]...)
	out = append(out, val...)
	return append(out, body[e:]...)
}

func onlySpaceThenClose(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
		case '}':
			return true
		default:
			return false
		}
	}
	return false
}

// chatMeter reads usage from a relayed chat completion: the usage object of the whole answer,
// or of the stream's final chunk (prompt tokens with their cached part, completion tokens with
// their reasoning part). A stream is complete at its usage chunk, or at [DONE] when the server
// sends none (then the usage is estimated and flagged).
type chatMeter struct {
	p           parser
	clientUsage bool // the client asked for the usage chunk: relay it
	usage       llm.Usage
	known       bool
	complete    bool
	produced    int
	reqBytes    int
}

func newChatMeter(r *provider.RawRequest) *chatMeter {
	return &chatMeter{clientUsage: usageAsked(r.Body), reqBytes: r.Len()}
}

func (m *chatMeter) Event(ev sse.Event) (bool, error) {
	if string(ev.Data) == string(done) {
		m.complete = true
		return true, nil
	}
	if m.p.parse(ev.Data, false) != nil {
		return true, nil // not a chunk the meter can read: relayed, and the usage estimated
	}
	c := &m.p.c
	if c.Error != nil {
		return true, streamError(c.Error)
	}
	if c.HasChoice {
		ch := &c.Choice
		m.produced += len(ch.Content) + len(ch.Refusal)
		for _, tc := range ch.ToolCalls {
			m.produced += len(tc.Name) + len(tc.Arguments)
		}
	}
	if c.Usage != nil {
		m.usage, m.known, m.complete = c.Usage.canonical(), true, true
		if !m.clientUsage && !c.HasChoice {
			return false, nil // the usage-only chunk the gateway asked for on its own account
		}
	}
	return true, nil
}

func (m *chatMeter) Body(b []byte) error {
	m.complete = true
	resp, err := decodeResponse(b, m.reqBytes)
	if err != nil {
		m.produced = len(b)
		return err
	}
	m.usage, m.known = resp.Usage, true
	return nil
}

func (m *chatMeter) Complete() bool { return m.complete }

func (m *chatMeter) Usage() llm.Usage {
	u := m.usage
	if !m.known {
		upstream.FinishUsage(&u, false, false, m.reqBytes, m.produced)
	}
	u.Partial = !m.complete
	return u
}
