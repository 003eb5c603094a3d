package openai

import (
	"testing"

	"github.com/polydev/polydev/gateway/provider"
)

// TestEmbedMeter: the embeddings answer's usage.prompt_tokens is the input, exactly; an answer
// without usage (a compatible server) is estimated from the request and flagged; a body that is
// not JSON is an error and estimated too.
func TestEmbedMeter(t *testing.T) {
	t.Parallel()
	raw := &provider.RawRequest{Op: OpEmbeddings, Body: []byte(`{"model":"m","input":"hello world, twenty-eight b"}`)}
	for _, c := range []struct {
		name      string
		body      string
		wantIn    int
		estimated bool
		err       bool
	}{
		{"usage", `{"object":"list","data":[],"model":"m","usage":{"prompt_tokens":7,"total_tokens":7}}`, 7, false, false},
		{"no usage", `{"object":"list","data":[]}`, (raw.Len() + 3) / 4, true, false},
		{"not json", `<html>`, (raw.Len() + 3) / 4, true, true},
	} {
		m := (&Provider{}).Meter(raw)
		err := m.Body([]byte(c.body))
		u := m.Usage()
		if (err != nil) != c.err || !m.Complete() || u.InputTokens != c.wantIn || u.InputEstimated != c.estimated || u.OutputTokens != 0 || u.OutputEstimated || u.Partial {
			t.Errorf("%s: err %v, usage %+v", c.name, err, u)
		}
	}
}
