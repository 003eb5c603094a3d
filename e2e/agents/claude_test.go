package agents

import (
	"strings"
	"testing"

	"github.com/polydev/polydev/internal/testkit"
)

// TestClaudeCode runs `claude -p` with its default model through Polydev to the fake Anthropic: a
// prompt, a tool round trip (the fake asks for Read of a file, Claude Code reads it and sends the
// result back), an OpenAI model across providers, and a wrong token.
func TestClaudeCode(t *testing.T) {
	e := newEnv(t)
	usage := testkit.Usage{PromptTokens: 30000, CompletionTokens: 40, CachedTokens: 24000, CacheWriteTokens: 5000}

	t.Run("prompt", func(t *testing.T) {
		r := e.newRun(t)
		n, m := e.tap.count(), e.anthropic.RequestCount()
		e.anthropic.Enqueue(testkit.Script{Text: "Polydev relayed this to Claude Code.", Usage: usage})
		res := e.claude(t, r, e.token, "-p", "Say hello")
		wantSuccess(t, res, "Polydev relayed this to Claude Code.")
		client, ups := onPath(e.tap.since(n), "/v1/messages"), upstreamSince(e.anthropic, m)
		if len(client) != 1 || len(ups) != 1 {
			t.Fatalf("Claude Code sent %d messages requests, the upstream got %d; want 1 and 1", len(client), len(ups))
		}
		var in struct{ Model string }
		_ = decodeObject(t, "client body", client[0].Body)
		if err := jsonUnmarshal(client[0].Body, &in); err != nil || in.Model == "" {
			t.Fatalf("client body without a model: %v", err)
		}
		if got := ups[0].Model(); got != in.Model {
			t.Errorf("default model %q reached the upstream as %q", in.Model, got)
		}
		wantPassedThrough(t, client[0], ups[0])
		wantHeadersForwarded(t, client[0], ups[0], "anthropic-beta", "anthropic-version")
		if ups[0].Key != e.anthropic.Key {
			t.Errorf("upstream credential = %q, want the platform key", ups[0].Key)
		}
	})

	t.Run("tool round trip", func(t *testing.T) {
		r := e.newRun(t)
		note := r.write(t, "note.txt", "the secret word is PELICAN-4711\n")
		n, m := e.tap.count(), e.anthropic.RequestCount()
		e.anthropic.Enqueue(
			testkit.Script{ToolCalls: []testkit.ToolCall{{ID: "toolu_01PolydevReadNote", Name: "Read",
				Arguments: `{"file_path":` + jsonString(note) + `}`}}, Usage: usage},
			testkit.Script{Text: "The note says PELICAN-4711.", Usage: usage},
		)
		res := e.claude(t, r, e.token, "-p", "Read note.txt and tell me the secret word.")
		wantSuccess(t, res, "The note says PELICAN-4711.")
		client, ups := onPath(e.tap.since(n), "/v1/messages"), upstreamSince(e.anthropic, m)
		if len(client) != 2 || len(ups) != 2 {
			t.Fatalf("Claude Code sent %d messages requests, the upstream got %d; want 2 and 2", len(client), len(ups))
		}
		// The second turn carries the tool's result: the file's content, read by Claude Code.
		if !strings.Contains(string(ups[1].Body), `"tool_result"`) || !strings.Contains(string(ups[1].Body), "PELICAN-4711") {
			t.Errorf("the second upstream request has no tool_result with the file's content")
		}
		for i := range ups {
			wantPassedThrough(t, client[i], ups[i])
			wantHeadersForwarded(t, client[i], ups[i], "anthropic-beta", "anthropic-version")
		}
	})

	t.Run("cross-provider openai", func(t *testing.T) {
		r := e.newRun(t)
		m := e.openai.RequestCount()
		e.openai.Enqueue(testkit.Script{Text: "GPT answered Claude Code through Polydev.", Usage: testkit.DefaultUsage})
		res := e.claude(t, r, e.token, "-p", "--model", "openai/gpt-4o-mini", "Say hello")
		wantSuccess(t, res, "GPT answered Claude Code through Polydev.")
		ups := upstreamSince(e.openai, m)
		if len(ups) != 1 || ups[0].Model() != "gpt-4o-mini" {
			t.Fatalf("OpenAI upstream got %d requests (model %q), want 1 for gpt-4o-mini", len(ups), modelOf(ups))
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		r := e.newRun(t)
		r.bound = wrongTokenBound
		n, m := e.tap.count(), e.anthropic.RequestCount()
		res := e.claude(t, r, wrongToken, "-p", "Say hello")
		if res.exit == 0 {
			t.Fatalf("claude succeeded with a wrong token: %s", res)
		}
		if got := len(e.tap.since(n)); got != 1 {
			t.Errorf("Claude Code sent %d requests with a wrong token, want 1 (no silent retries):%s\n%s", got, describe(e.tap.since(n)), res)
		}
		// Claude Code words it from the status and Polydev's message ("Failed to authenticate. API
		// Error: 401 ..." or "Invalid API key"); either names the problem.
		if out := strings.ToLower(res.stdout + res.stderr); !strings.Contains(out, "401") && !strings.Contains(out, "invalid api key") {
			t.Errorf("no clear message about the key: %s", res)
		}
		if e.anthropic.RequestCount() != m {
			t.Error("a request with a wrong token reached the upstream")
		}
	})
	wantNoToken(t, e.token, e.openai, e.anthropic, e.gemini)
}

func modelOf(reqs []testkit.Request) string {
	if len(reqs) == 0 {
		return ""
	}
	return reqs[0].Model()
}
