package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// TestOpenAIEmbeddingsPassthrough: /v1/embeddings to an OpenAI model reaches the upstream as the
// client wrote it (only the model rewritten: encoding_format, dimensions, user and fields Polydev
// does not know all kept), the answer comes back byte for byte, and the usage record holds the
// answer's usage.prompt_tokens exactly.
func TestOpenAIEmbeddingsPassthrough(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	up := fakes[0].up
	admin := e.signup("embpt-admin@example.com", pw)
	e.makeAdmin("embpt-admin@example.com")
	e.want(e.do("PUT", "/api/admin/pricing", `{"prices":[{"model":"openai/text-embedding-3-small","inputPerMTok":100,"outputPerMTok":0}]}`, "Cookie", admin), http.StatusOK)
	token, u := e.apiUser("embpt@example.com", polydev.TierPlus)

	body := "{\n  \"input\": [\"the quick brown fox\", [1, 2, 3]],\n  \"model\": \"openai/text-embedding-3-small\"," +
		` "encoding_format":"base64","dimensions":4,"user":"u-1","a_future_field":{"x":true}}`
	r := e.want(e.do("POST", "/v1/embeddings", body, "Authorization", "Bearer "+token, "OpenAI-Beta", "embeddings=v9"), http.StatusOK)
	last := up.LastRequest()
	if want := strings.Replace(body, `"openai/text-embedding-3-small"`, `"text-embedding-3-small"`, 1); string(last.Body) != want {
		t.Fatalf("upstream body\n got %s\nwant %s", last.Body, want)
	}
	if last.Path != "/v1/embeddings" || last.Key != up.Key || last.Header.Get("OpenAI-Beta") != "embeddings=v9" {
		t.Errorf("upstream %s key %q headers %v", last.Path, last.Key, last.Header)
	}
	var out struct {
		Model string `json:"model"`
		Data  []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int64 `json:"prompt_tokens"`
		} `json:"usage"`
	}
	r.json(t, &out)
	// The upstream's answer as it is: its model id, base64 vectors (the fake's own encoding).
	if out.Model != "text-embedding-3-small" || len(out.Data) != 2 || out.Data[0].Embedding == "" {
		t.Fatalf("answer %s", r.body)
	}
	want := int64(testkit.EmbeddingTokens("the quick brown fox") + testkit.EmbeddingTokens("[1, 2, 3]"))
	rec := e.usageOf(u)[0]
	if rec.Surface != "embeddings" || rec.Model != "openai/text-embedding-3-small" || rec.InputTokens != want || out.Usage.PromptTokens != want ||
		rec.OutputTokens != 0 || rec.Estimated || rec.Cost <= 0 || rec.Status != polydev.UsageOK {
		t.Errorf("usage record %+v (answer's prompt_tokens %d, want %d)", rec, out.Usage.PromptTokens, want)
	}

	t.Run("upstream errors keep OpenAI's shape and bill nothing", func(t *testing.T) {
		n := len(e.usageOf(u))
		up.Enqueue(testkit.ErrorScript(http.StatusTooManyRequests))
		r := e.want(e.do("POST", "/v1/embeddings", `{"model":"openai/text-embedding-3-small","input":"x"}`, "Authorization", "Bearer "+token), http.StatusTooManyRequests)
		if !strings.Contains(string(r.body), `"type":"rate_limit_error"`) || strings.Contains(string(r.body), up.Key) {
			t.Errorf("body %s", r.body)
		}
		recs := e.usageOf(u)
		if len(recs) > n && recs[0].Cost != 0 {
			t.Errorf("a failed call was billed: %+v", recs[0])
		}
	})
}
