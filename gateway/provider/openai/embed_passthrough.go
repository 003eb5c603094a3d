package openai

import (
	"encoding/json"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/gateway/sse"
)

// embedMeter reads the usage of a relayed embeddings answer (op embeddings): the body's
// usage.prompt_tokens, the whole input. Embeddings generate no tokens; a body without usage (some
// compatible servers) is billed by an estimate from the request's size, flagged.
type embedMeter struct {
	usage    llm.Usage
	known    bool
	complete bool
	reqBytes int
}

func (m *embedMeter) Event(sse.Event) (bool, error) {
	return true, nil // embeddings never stream; an event stream here is relayed and estimated
}

func (m *embedMeter) Body(b []byte) error {
	m.complete = true
	var r struct {
		Usage *struct {
			PromptTokens *int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return upstream.Malformed(Name, false, err)
	}
	if r.Usage != nil && r.Usage.PromptTokens != nil {
		m.usage.InputTokens, m.known = *r.Usage.PromptTokens, true
	}
	return nil
}

func (m *embedMeter) Complete() bool { return m.complete }

func (m *embedMeter) Usage() llm.Usage {
	u := m.usage
	upstream.FinishUsage(&u, m.known, true, m.reqBytes, 0)
	u.Partial = !m.complete
	return u
}
