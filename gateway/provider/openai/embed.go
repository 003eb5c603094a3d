package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
)

var _ provider.Embedder = (*Provider)(nil)

type wireEmbedRequest struct {
	Model      string `json:"model"`
	Input      any    `json:"input"` // []string or [][]int64
	Dimensions int    `json:"dimensions,omitempty"`
	User       string `json:"user,omitempty"`
	// encoding_format is left at its default, float: every compatible server speaks it, and the
	// gateway renders base64 itself when the client asks.
}

type wireEmbedResponse struct {
	Model string `json:"model"`
	Data  []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage *struct {
		PromptTokens int `json:"prompt_tokens"`
	} `json:"usage"`
}

// Embed implements provider.Embedder: POST {base}/embeddings.
func (p *Provider) Embed(ctx context.Context, c *http.Client, t provider.Target, r *llm.EmbedRequest) (*llm.EmbedResponse, error) {
	w := wireEmbedRequest{Model: r.Model, Input: r.Texts, Dimensions: r.Dimensions, User: r.User}
	if len(r.Tokens) > 0 {
		w.Input = r.Tokens
	}
	body, err := json.Marshal(&w)
	if err != nil {
		return nil, err
	}
	req, err := upstream.NewRequest(ctx, http.MethodPost, base(t)+"/embeddings", body, false)
	if err != nil {
		return nil, llm.Errorf(Name, llm.ErrInvalidRequest, "invalid base URL")
	}
	if t.APIKey != "" {
		req.Header["Authorization"] = []string{"Bearer " + t.APIKey}
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
	var wr wireEmbedResponse
	if err := json.Unmarshal(raw, &wr); err != nil {
		return nil, upstream.Malformed(Name, false, err)
	}
	n := r.Inputs()
	out := &llm.EmbedResponse{Model: wr.Model, Vectors: make([][]float32, n)}
	for _, d := range wr.Data {
		if d.Index < 0 || d.Index >= n || out.Vectors[d.Index] != nil {
			return nil, upstream.Malformed(Name, false, errBadIndex)
		}
		out.Vectors[d.Index] = d.Embedding
	}
	for _, v := range out.Vectors {
		if v == nil {
			return nil, upstream.Malformed(Name, false, errBadIndex)
		}
	}
	known := wr.Usage != nil
	if known {
		out.Usage.InputTokens = wr.Usage.PromptTokens
	}
	upstream.FinishUsage(&out.Usage, known, true, len(body), 0)
	return out, nil
}

var errBadIndex = errors.New("embeddings: data indexes do not match the inputs")
