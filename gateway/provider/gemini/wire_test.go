package gemini

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider"
	"github.com/polydev/polydev/gateway/provider/internal/providertest"
	"github.com/polydev/polydev/gateway/provider/internal/upstream"
	"github.com/polydev/polydev/internal/testkit"
)

func TestWireRequest(t *testing.T) {
	t.Parallel()
	u := testkit.NewGemini(t)
	p := &Provider{}
	req := providertest.Body(t, u, func() error {
		s, err := p.Stream(t.Context(), u.Client(), providertest.Target(u), providertest.Conversation("gemini-2.5-flash"))
		if err == nil {
			providertest.Collect(t, s)
			s.Close()
		}
		return err
	})
	if req.Path != "/v1beta/models/gemini-2.5-flash:streamGenerateContent" || req.RawQuery != "alt=sse" || req.Header.Get("X-Goog-Api-Key") != u.Key {
		t.Errorf("request %s?%s headers %v", req.Path, req.RawQuery, req.Header)
	}
	if strings.Contains(req.RawQuery, "key=") {
		t.Error("key in the query string")
	}
	// The tool result finds its function name from the earlier call; it and the next user text
	// share one user turn.
	providertest.AssertJSON(t, req.Body, `{
		"systemInstruction":{"parts":[{"text":"Be brief."}]},
		"contents":[
			{"role":"user","parts":[{"text":"Weather here?"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]},
			{"role":"model","parts":[{"text":"Checking."},{"functionCall":{"name":"get_weather","args":{"location":"Paris"}}}]},
			{"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"output":"18C, sunny"}}},{"text":"Thanks"}]}
		],
		"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Current weather","parametersJsonSchema":{"type":"object","properties":{"location":{"type":"string"}}}}]}],
		"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}},
		"generationConfig":{"temperature":1.5,"topP":0.9,"stopSequences":["END"]}
	}`)
	if _, err := p.Do(t.Context(), u.Client(), providertest.Target(u), providertest.Request("models/gemini-2.5-pro")); err != nil {
		t.Fatal(err)
	}
	if got := u.LastRequest(); got.Path != "/v1beta/models/gemini-2.5-pro:generateContent" || got.RawQuery != "" {
		t.Errorf("non-streaming path %s?%s", got.Path, got.RawQuery)
	}
}

func TestBadModelNames(t *testing.T) {
	t.Parallel()
	u := testkit.NewGemini(t)
	for _, m := range []string{"", "..", "../x", "a/b", "a?key=1", "a#b", "a:streamGenerateContent", "a%2f"} {
		_, err := (&Provider{}).Do(t.Context(), u.Client(), providertest.Target(u), providertest.Request(m))
		if e, ok := llm.AsError(err); !ok || e.Kind != llm.ErrInvalidRequest {
			t.Errorf("model %q: %v", m, err)
		}
	}
	if n := u.RequestCount(); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}

func TestBaseURLVersion(t *testing.T) {
	t.Parallel()
	for base, want := range map[string]string{
		"":                             DefaultBaseURL + "/v1beta",
		"https://example.test/":        "https://example.test/v1beta",
		"https://example.test/v1":      "https://example.test/v1",
		"https://example.test/v1beta/": "https://example.test/v1beta",
	} {
		if got := apiRoot(provider.Target{BaseURL: base}); got != want {
			t.Errorf("%q: %q", base, got)
		}
	}
}

func TestToolResultWithoutCall(t *testing.T) {
	t.Parallel()
	r := providertest.Request("gemini-2.5-flash")
	r.Messages = append(r.Messages, llm.Message{Role: llm.RoleTool, Content: []llm.Part{{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "nope", IsError: true}}}})
	if _, err := encodeRequest(r); err == nil {
		t.Error("a result for an unknown call was accepted")
	}
	r.Messages[1].Content[0].ToolResult.Name = "get_weather"
	body, err := encodeRequest(r)
	if err != nil || !bytes.Contains(body, []byte(`"response":{"error":""}`)) {
		t.Errorf("%s %v", body, err)
	}
}

func bodyStream(b []byte) *upstream.Stream {
	return upstream.NewBodyStream(context.Background(), upstream.Call{Provider: Name}, io.NopCloser(bytes.NewReader(b)), &decoder{}, 400)
}

func TestRecordedStreams(t *testing.T) {
	t.Parallel()
	want := expect(testkit.DefaultUsage)
	got := providertest.Collect(t, bodyStream(testkit.Payload("gemini/stream_function_call.sse")))
	if got.Err != nil || len(got.Calls) != 1 || got.Calls[0].Name != "get_weather" || !strings.HasPrefix(got.Calls[0].ID, "call_") || got.Stop != llm.StopToolUse || got.Usage != want {
		t.Errorf("function call stream: %+v", got)
	}
	s := bodyStream(testkit.Payload("gemini/stream_error.sse"))
	got = providertest.Collect(t, s)
	if e, ok := llm.AsError(got.Err); !ok || e.Kind != llm.ErrOverloaded || e.Type != "UNAVAILABLE" || got.Text != "Hello! How can " {
		t.Errorf("error stream: %+v", got)
	}
	// Input known from the chunks' usageMetadata; output estimated above the thoughts already reported.
	us := s.Usage()
	if us.InputTokens != 1536 || us.InputEstimated || !us.OutputEstimated || us.ReasoningTokens != 64 || us.OutputTokens != 64+llm.EstimateTokens(len("Hello! How can ")) {
		t.Errorf("partial usage %+v", us)
	}
}

func TestStopReasons(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		body string
		want llm.StopReason
	}{
		{`{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"MAX_TOKENS"}]}`, llm.StopMaxTokens},
		{`{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"SAFETY"}]}`, llm.StopContentFilter},
		{`{"candidates":[{"finishReason":"MALFORMED_FUNCTION_CALL"}]}`, llm.StopError},
		{`{"promptFeedback":{"blockReason":"SAFETY"}}`, llm.StopContentFilter},
		{`{"candidates":[{"content":{"parts":[{"text":"hidden","thought":true},{"text":"shown"}]},"finishReason":"STOP"}]}`, llm.StopEndTurn},
	} {
		resp, err := decodeResponse([]byte(c.body), 10)
		if err != nil || resp.StopReason != c.want || strings.Contains(resp.Text(), "hidden") {
			t.Errorf("%s: %+v %v", c.body, resp, err)
		}
		got := providertest.Collect(t, bodyStream([]byte("data: "+c.body+"\r\n\r\n")))
		if got.Err != nil || got.Stop != c.want || strings.Contains(got.Text, "hidden") {
			t.Errorf("stream %s: %+v", c.body, got)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	key := "AIzaSecretSecretSecret"
	cl := upstream.Call{Provider: Name, Key: key, Parse: parseError}
	if e := cl.HTTPError(400, nil, testkit.Payload("gemini/error_400_api_key.json")); e.Kind != llm.ErrAuth || e.Retryable {
		t.Errorf("bad key: %+v", e)
	}
	quota, _ := json.Marshal(map[string]any{"error": map[string]any{"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota " + key,
		"details": []any{map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []any{map[string]any{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}}}}}})
	if e := cl.HTTPError(429, nil, quota); e.Kind != llm.ErrQuota || e.Retryable || strings.Contains(e.Error(), key) {
		t.Errorf("daily quota: %+v", e)
	}
}

func FuzzStreamDecoder(f *testing.F) {
	for _, name := range testkit.PayloadNames(testkit.Gemini) {
		f.Add(testkit.Payload(name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		providertest.FuzzDecoder(t, bodyStream(b))
	})
}
