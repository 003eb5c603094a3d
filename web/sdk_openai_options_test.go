package web

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// TestOpenAISDKStructuredOutput: the official SDK's response_format json_schema reaches each
// provider in its own form (recorded upstream bodies), and the JSON answer comes back as the
// message content; json_object on an Anthropic model goes through the forced JSON tool.
func TestOpenAISDKStructuredOutput(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	token, _ := e.apiUser("sdk-structured@example.com", polydev.TierFree)
	client := openai.NewClient(option.WithBaseURL(e.ts.URL+"/v1"), option.WithAPIKey(token), option.WithMaxRetries(0))
	schema := map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}},
		"required": []string{"city"}, "additionalProperties": false}
	const answer = `{"city":"Paris"}`
	wantUpstream := map[string]string{ // as canonicalJSON writes them: keys sorted
		"openai":    `"response_format":{"json_schema":{"name":"place","schema":{"additionalProperties":false,"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"strict":true},"type":"json_schema"}`,
		"anthropic": `"output_config":{"format":{"schema":{"additionalProperties":false,"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"type":"json_schema"}}`,
		"gemini":    `"responseJsonSchema":{"additionalProperties":false,"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"},"responseMimeType":"application/json"`,
	}
	for _, f := range fakes {
		t.Run(f.provider, func(t *testing.T) {
			f.up.SetScript(testkit.Script{Text: answer, Usage: testkit.Usage{PromptTokens: 20, CompletionTokens: 6}})
			resp, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
				Model:    f.model,
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where is the Louvre?")},
				ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{
					JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "place", Schema: schema, Strict: openai.Bool(true)},
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Choices[0].Message.Content; !sameJSON(t, got, answer) || resp.Choices[0].FinishReason != "stop" {
				t.Fatalf("content %q finish %q", got, resp.Choices[0].FinishReason)
			}
			if body := canonicalJSON(t, f.up.LastRequest().Body); !strings.Contains(body, wantUpstream[f.provider]) {
				t.Errorf("upstream body %s\nlacks %s", body, wantUpstream[f.provider])
			}
		})
	}
	t.Run("anthropic json_object", func(t *testing.T) {
		an := fakes[1].up
		an.SetScript(testkit.Script{ToolCalls: []testkit.ToolCall{{Name: "json_response", Arguments: answer}}, Usage: testkit.Usage{PromptTokens: 20, CompletionTokens: 6}})
		stream := client.Chat.Completions.NewStreaming(t.Context(), openai.ChatCompletionNewParams{
			Model:          fakes[1].model,
			Messages:       []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where is the Louvre? Answer in JSON.")},
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &shared.ResponseFormatJSONObjectParam{}},
		})
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		m := acc.Choices[0]
		if !sameJSON(t, m.Message.Content, answer) || len(m.Message.ToolCalls) != 0 || m.FinishReason != "stop" {
			t.Fatalf("content %q calls %v finish %q", m.Message.Content, m.Message.ToolCalls, m.FinishReason)
		}
		if body := canonicalJSON(t, an.LastRequest().Body); !strings.Contains(body, `"tool_choice":{"name":"json_response","type":"tool"}`) {
			t.Errorf("upstream body %s", body)
		}
	})
	t.Run("logprobs refused on anthropic", func(t *testing.T) {
		before := fakes[1].up.RequestCount()
		_, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{
			Model: fakes[1].model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}, Logprobs: openai.Bool(true),
		})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.HasPrefix(apiErr.Message, "logprobs:") {
			t.Fatalf("err = %v", err)
		}
		if fakes[1].up.RequestCount() != before {
			t.Error("the refused request reached the upstream")
		}
	})
}

// canonicalJSON re-encodes a JSON body with sorted keys, so tests can look for a member's text.
func canonicalJSON(t testing.TB, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestOpenAISDKEmbeddings: embeddings through the SDK on OpenAI (passthrough of the values) and
// Gemini (embedContent / batchEmbedContents), base64 encoding, the usage record, and Anthropic's
// precise refusal.
func TestOpenAISDKEmbeddings(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	admin := e.signup("emb-admin@example.com", pw)
	e.makeAdmin("emb-admin@example.com")
	// Priced here, so the test holds whatever the embedded table knows about embedding models (and
	// high enough that a dozen tokens cost more than a micro-dollar).
	e.want(e.do("PUT", "/api/admin/pricing", `{"prices":[{"model":"openai/text-embedding-3-small","inputPerMTok":100,"outputPerMTok":0},
		{"model":"gemini/gemini-embedding-001","inputPerMTok":100,"outputPerMTok":0}]}`, "Cookie", admin), http.StatusOK)
	token, u := e.apiUser("sdk-embed@example.com", polydev.TierPlus) // free allows three chat models only
	client := openai.NewClient(option.WithBaseURL(e.ts.URL+"/v1"), option.WithAPIKey(token), option.WithMaxRetries(0))
	texts := []string{"the quick brown fox", "jumps over the lazy dog"}

	for _, c := range []struct {
		model string
		up    *testkit.Upstream
		path  string // the upstream path for two inputs
	}{
		{"openai/text-embedding-3-small", fakes[0].up, "/v1/embeddings"},
		{"gemini/gemini-embedding-001", fakes[2].up, "/v1beta/models/gemini-embedding-001:batchEmbedContents"},
	} {
		t.Run(c.model, func(t *testing.T) {
			resp, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
				Model: c.model, Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts}, Dimensions: openai.Int(4),
				EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Data) != 2 {
				t.Fatalf("%d vectors", len(resp.Data))
			}
			for i, d := range resp.Data {
				want := testkit.EmbeddingVector(texts[i], 4)
				if d.Index != int64(i) || len(d.Embedding) != 4 {
					t.Fatalf("entry %d: index %d, %d values", i, d.Index, len(d.Embedding))
				}
				for j := range want {
					if float32(d.Embedding[j]) != want[j] {
						t.Fatalf("vector %d = %v, want %v", i, d.Embedding, want)
					}
				}
			}
			last := c.up.LastRequest()
			if last.Path != c.path || last.Key != c.up.Key {
				t.Errorf("upstream %s key %q", last.Path, last.Key)
			}
			rec := e.usageOf(u)[0]
			tokens := int64(testkit.EmbeddingTokens(texts[0]) + testkit.EmbeddingTokens(texts[1]))
			if strings.HasPrefix(c.model, "gemini/") {
				// Gemini reports no tokens for embeddings: an estimate from the texts, flagged.
				if !rec.Estimated || rec.InputTokens <= 0 {
					t.Errorf("gemini usage record %+v", rec)
				}
			} else if rec.InputTokens != tokens || resp.Usage.PromptTokens != tokens || rec.Estimated {
				t.Errorf("usage: record %d (estimated %v), response %d, want %d", rec.InputTokens, rec.Estimated, resp.Usage.PromptTokens, tokens)
			}
			if rec.Surface != "embeddings" || rec.Model != c.model || rec.OutputTokens != 0 || rec.Cost <= 0 || rec.Status != polydev.UsageOK {
				t.Errorf("usage record %+v", rec)
			}
		})
	}
	t.Run("gemini one input", func(t *testing.T) {
		if _, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
			Model: "gemini/gemini-embedding-001", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
		}); err != nil {
			t.Fatal(err)
		}
		if p := fakes[2].up.LastRequest().Path; p != "/v1beta/models/gemini-embedding-001:embedContent" {
			t.Errorf("upstream path %s", p)
		}
	})
	t.Run("base64", func(t *testing.T) {
		var got struct {
			Data []struct {
				Embedding string `json:"embedding"`
			} `json:"data"`
		}
		e.want(e.do("POST", "/v1/embeddings", map[string]any{"model": "openai/text-embedding-3-small", "input": "hello", "encoding_format": "base64"},
			"Authorization", "Bearer "+token), http.StatusOK).json(t, &got)
		raw, err := base64.StdEncoding.DecodeString(got.Data[0].Embedding)
		want := testkit.EmbeddingVector("hello", 0)
		if err != nil || len(raw) != 4*len(want) {
			t.Fatalf("base64 %q: %v", got.Data[0].Embedding, err)
		}
		for j, w := range want {
			if math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:])) != w {
				t.Fatalf("value %d differs", j)
			}
		}
	})
	t.Run("anthropic has none", func(t *testing.T) {
		_, err := client.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
			Model: "anthropic/claude-haiku-4-5", Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String("hello")},
		})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || !strings.Contains(apiErr.Message, "no embeddings API") {
			t.Fatalf("err = %v", err)
		}
		if fakes[1].up.RequestCount() != 0 {
			t.Error("anthropic upstream called")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		// OpenAI's own answer for its models (the body is forwarded as written); ours, before any
		// upstream call, for a translated one.
		for _, model := range []string{"openai/text-embedding-3-small", "gemini/gemini-embedding-001"} {
			before := fakes[2].up.RequestCount()
			for _, body := range []string{`{"model":"` + model + `"}`, `{"model":"` + model + `","input":""}`,
				`{"model":"` + model + `","input":"x","encoding_format":"hex"}`, `{"model":"` + model + `","input":[1.5]}`} {
				r := e.want(e.do("POST", "/v1/embeddings", body, "Authorization", "Bearer "+token), http.StatusBadRequest)
				if !strings.Contains(string(r.body), `"type":"invalid_request_error"`) {
					t.Errorf("%s: %s", body, r.body)
				}
			}
			if fakes[2].up.RequestCount() != before {
				t.Error("a refused request reached Gemini")
			}
		}
	})
}

// TestOpenAISDKModelsRetrieve: GET /v1/models/{id} with a provider/model id (a slash in the path),
// a bare name, and a 404 in OpenAI's shape for a model the caller cannot use.
func TestOpenAISDKModelsRetrieve(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	e.platformFakes()
	token, _ := e.apiUser("sdk-models@example.com", polydev.TierFree)
	client := openai.NewClient(option.WithBaseURL(e.ts.URL+"/v1"), option.WithAPIKey(token), option.WithMaxRetries(0))
	m, err := client.Models.Get(t.Context(), "openai/gpt-4o-mini")
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != "openai/gpt-4o-mini" || m.Object != "model" || m.OwnedBy != "openai" {
		t.Fatalf("model = %+v", m)
	}
	if m, err := client.Models.Get(t.Context(), "gpt-4o-mini"); err != nil || m.ID != "openai/gpt-4o-mini" {
		t.Fatalf("bare name: %+v %v", m, err)
	}
	for _, id := range []string{"openai/no-such-model", "nonsense", "anthropic/claude-haiku-4-5/extra"} {
		_, err := client.Models.Get(t.Context(), id)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound {
			t.Errorf("%s: err = %v", id, err)
		}
	}
	var nf struct {
		Error struct{ Message, Type, Code string } `json:"error"`
	}
	e.want(e.do("GET", "/v1/models/openai/no-such-model", nil, "Authorization", "Bearer "+token), http.StatusNotFound).json(t, &nf)
	if !strings.Contains(nf.Error.Message, "does not exist") || nf.Error.Type == "" || nf.Error.Code == "" {
		t.Errorf("404 body %+v", nf)
	}
	e.want(e.do("GET", "/v1/models/openai/gpt-4o-mini", nil), http.StatusUnauthorized)
}
