package gemini

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

var _ provider.Embedder = (*Provider)(nil)

type wireEmbedContent struct {
	Model                string      `json:"model,omitempty"` // batch entries only: "models/{model}"
	Content              wireContent `json:"content"`
	OutputDimensionality int         `json:"outputDimensionality,omitempty"`
}

type wireValues struct {
	Values []float32 `json:"values"`
}

type wireEmbedResponse struct {
	Embedding     *wireValues  `json:"embedding"`  // embedContent
	Embeddings    []wireValues `json:"embeddings"` // batchEmbedContents
	UsageMetadata *struct {
		PromptTokenCount int `json:"promptTokenCount"`
	} `json:"usageMetadata"`
}

// Embed implements provider.Embedder: :embedContent for one input, :batchEmbedContents for more.
// Gemini takes text only, and does not report tokens for embeddings: the input is estimated from
// the texts' size and the usage flagged as estimated.
func (p *Provider) Embed(ctx context.Context, c *http.Client, t provider.Target, r *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	if len(r.Tokens) > 0 {
		return nil, polydev.Errorf(polydev.EINVALID, "input: token arrays are supported by OpenAI models only; send text")
	}
	model, err := modelPath(r.Model)
	if err != nil {
		return nil, err
	}
	one := func(text string, named bool) wireEmbedContent {
		e := wireEmbedContent{Content: wireContent{Parts: []wirePart{{Text: text}}}, OutputDimensionality: r.Dimensions}
		if named {
			e.Model = "models/" + model
		}
		return e
	}
	var body []byte
	action := ":embedContent"
	if len(r.Texts) == 1 {
		body, err = json.Marshal(one(r.Texts[0], false))
	} else {
		action = ":batchEmbedContents"
		reqs := make([]wireEmbedContent, len(r.Texts))
		for i, text := range r.Texts {
			reqs[i] = one(text, true)
		}
		body, err = json.Marshal(map[string]any{"requests": reqs})
	}
	if err != nil {
		return nil, err
	}
	req, err := newRequest(ctx, http.MethodPost, apiRoot(t)+"/models/"+model+action, t, body, false)
	if err != nil {
		return nil, err
	}
	cl := call(c, t)
	resp, err := cl.Send(req)
	if err != nil {
		return nil, err
	}
	raw, err := cl.ReadBody(ctx, resp)
	if err != nil {
		return nil, err
	}
	var w wireEmbedResponse
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	vals := w.Embeddings
	if w.Embedding != nil {
		vals = []wireValues{*w.Embedding}
	}
	if len(vals) != len(r.Texts) {
		return nil, upstream.Malformed(Name, false, errors.New("embeddings: count does not match the inputs"))
	}
	out := &llm.EmbedResponse{Model: model, Vectors: make([][]float32, len(vals))}
	for i, v := range vals {
		out.Vectors[i] = v.Values
	}
	textBytes := 0
	for _, s := range r.Texts {
		textBytes += len(s)
	}
	known := w.UsageMetadata != nil
	if known {
		out.Usage.InputTokens = w.UsageMetadata.PromptTokenCount
	}
	upstream.FinishUsage(&out.Usage, known, true, textBytes, 0)
	return out, nil
}
