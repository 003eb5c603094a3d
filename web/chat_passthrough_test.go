package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/internal/testkit"
)

// TestOpenAIChatPassthrough: /v1/chat/completions to an OpenAI model reaches the upstream as the
// client wrote it (only the model rewritten; every field, known or not, and openai-beta kept), with
// stream_options.include_usage added to a stream that did not ask for usage and the usage-only
// chunk then kept from that client; usage (cached and reasoning tokens included) is recorded
// exactly on every path.
func TestOpenAIChatPassthrough(t *testing.T) {
	t.Parallel()
	e := gatewayEnv(t, "sqlite")
	fakes := e.platformFakes()
	up := fakes[0].up
	token, u := e.apiUser("chat-passthrough@example.com", polydev.TierFree)
	script := testkit.Script{Text: "Hello there friend", Usage: testkit.Usage{PromptTokens: 1200, CompletionTokens: 80, CachedTokens: 1024, ReasoningTokens: 32}}
	up.SetScript(script)
	const fields = `"messages":[{"role":"developer","content":"Be brief."},{"role":"user","content":"hi","name":"bob"}],` +
		`"logprobs":true,"top_logprobs":2,"n":2,"seed":5,"metadata":{"k":"v"},"store":true,"max_completion_tokens":50,` +
		`"reasoning_effort":"low","service_tier":"flex","prediction":{"type":"content","content":"x"},"logit_bias":{"50256":-100},` +
		`"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":{"type":"object"}}},"a_future_field":{"x":[1,2]}`
	post := func(body string, hdr ...string) *resp {
		return e.do("POST", "/v1/chat/completions", body, append([]string{"Authorization", "Bearer " + token, "OpenAI-Beta", "assistants=v2"}, hdr...)...)
	}

	t.Run("whole answer", func(t *testing.T) {
		body := `{"model":"openai/gpt-4o-mini",` + fields + `}`
		r := e.want(post(body), http.StatusOK)
		last := up.LastRequest()
		if want := strings.Replace(body, `"openai/gpt-4o-mini"`, `"gpt-4o-mini"`, 1); string(last.Body) != want {
			t.Fatalf("upstream body\n got %s\nwant %s", last.Body, want)
		}
		if last.Key != up.Key || last.Header.Get("OpenAI-Beta") != "assistants=v2" || strings.Contains(last.Header.Get("Authorization"), "pd_") {
			t.Errorf("upstream headers %v", last.Header)
		}
		var out struct {
			Choices []struct {
				Message struct{ Content string } `json:"message"`
			} `json:"choices"`
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
			} `json:"usage"`
		}
		r.json(t, &out)
		if out.Choices[0].Message.Content != script.Text || out.Usage.PromptTokens != 1200 {
			t.Errorf("answer %s", r.body)
		}
		checkUsage(t, e.usageOf(u)[0], script, "openai/gpt-4o-mini", polydev.UsageOK)
	})

	t.Run("stream without usage asked", func(t *testing.T) {
		body := `{"model":"openai/gpt-4o-mini","stream":true,` + fields + `}`
		r := e.want(post(body), http.StatusOK)
		last := up.LastRequest()
		want := `{"stream_options":{"include_usage":true},` + strings.TrimPrefix(strings.Replace(body, `"openai/gpt-4o-mini"`, `"gpt-4o-mini"`, 1), `{`)
		if string(last.Body) != want {
			t.Fatalf("upstream body\n got %s\nwant %s", last.Body, want)
		}
		text, usageChunks := readChunks(t, r.body)
		if text != script.Text || usageChunks != 0 || !bytes.HasSuffix(bytes.TrimSpace(r.body), []byte("data: [DONE]")) {
			t.Errorf("client got text %q, %d usage chunks: %s", text, usageChunks, r.body)
		}
		rec := e.usageOf(u)[0]
		checkUsage(t, rec, script, "openai/gpt-4o-mini", polydev.UsageOK)
		if !rec.Stream || rec.Estimated {
			t.Errorf("record %+v", rec)
		}
	})

	t.Run("stream with usage asked", func(t *testing.T) {
		body := `{"model":"openai/gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},` + fields + `}`
		r := e.want(post(body), http.StatusOK)
		if want := strings.Replace(body, `"openai/gpt-4o-mini"`, `"gpt-4o-mini"`, 1); string(up.LastRequest().Body) != want {
			t.Fatalf("upstream body %s", up.LastRequest().Body)
		}
		if text, usageChunks := readChunks(t, r.body); text != script.Text || usageChunks != 1 {
			t.Errorf("client got text %q, %d usage chunks", text, usageChunks)
		}
		checkUsage(t, e.usageOf(u)[0], script, "openai/gpt-4o-mini", polydev.UsageOK)
	})

	t.Run("the same fields to another provider are refused by name", func(t *testing.T) {
		before := fakes[1].up.RequestCount()
		r := e.want(post(`{"model":"anthropic/claude-haiku-4-5",`+fields+`}`), http.StatusBadRequest)
		if !strings.Contains(string(r.body), `n: not supported when the model is served by anthropic`) {
			t.Errorf("body %s", r.body)
		}
		if fakes[1].up.RequestCount() != before {
			t.Error("the refused request reached Anthropic")
		}
	})

	t.Run("upstream errors keep OpenAI's shape", func(t *testing.T) {
		up.Enqueue(testkit.ErrorScript(http.StatusBadRequest))
		r := e.want(post(`{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`), http.StatusBadRequest)
		if !strings.Contains(string(r.body), `"type":"invalid_request_error"`) || strings.Contains(string(r.body), up.Key) {
			t.Errorf("body %s", r.body)
		}
	})
}

// readChunks reads a chat.completion.chunk stream: the text of choice 0 and how many chunks carry
// usage.
func readChunks(t *testing.T, body []byte) (text string, usageChunks int) {
	t.Helper()
	for _, line := range strings.Split(string(body), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Index int `json:"index"`
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Usage *json.RawMessage `json:"usage"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		for _, ch := range c.Choices {
			if ch.Index == 0 {
				text += ch.Delta.Content
			}
		}
		if c.Usage != nil && string(*c.Usage) != "null" {
			usageChunks++
		}
	}
	return text, usageChunks
}
