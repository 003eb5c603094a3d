package agents

import (
	"strings"
	"testing"

	"github.com/polydev/polydev/internal/testkit"
)

// TestCodex runs `codex exec` with its default model through Polydev's Responses API to the fake
// OpenAI: a prompt, a tool call (the fake asks for exec_command, Codex runs it and sends the output
// back), an Anthropic model across providers, and a wrong token.
func TestCodex(t *testing.T) {
	e := newEnv(t)
	usage := testkit.Usage{PromptTokens: 12000, CompletionTokens: 30, CachedTokens: 8000, ReasoningTokens: 10}

	t.Run("prompt", func(t *testing.T) {
		r := e.newRun(t)
		n, m := e.tap.count(), e.openai.RequestCount()
		e.openai.Enqueue(testkit.Script{Text: "Polydev relayed this to Codex.", Usage: usage})
		res := e.codex(t, r, e.token, "Say hello")
		wantSuccess(t, res, "Polydev relayed this to Codex.")
		client, ups := onPath(e.tap.since(n), "/v1/responses"), upstreamSince(e.openai, m)
		if len(client) != 1 || len(ups) != 1 {
			t.Fatalf("Codex sent %d responses requests, the upstream got %d; want 1 and 1", len(client), len(ups))
		}
		var in struct{ Model string }
		if err := jsonUnmarshal(client[0].Body, &in); err != nil || in.Model == "" {
			t.Fatalf("client body without a model: %v", err)
		}
		if ups[0].Path != "/v1/responses" || ups[0].Model() != in.Model {
			t.Errorf("default model %q reached the upstream as %s %q", in.Model, ups[0].Path, ups[0].Model())
		}
		wantPassedThrough(t, client[0], ups[0])
		if ups[0].Key != e.openai.Key {
			t.Errorf("upstream credential = %q, want the platform key", ups[0].Key)
		}
	})

	t.Run("tool call", func(t *testing.T) {
		r := e.newRun(t)
		r.write(t, "note.txt", "the secret word is HERON-2718\n")
		n, m := e.tap.count(), e.openai.RequestCount()
		e.openai.Enqueue(
			testkit.Script{ToolCalls: []testkit.ToolCall{{ID: "call_PolydevCatNote", Name: "exec_command",
				Arguments: `{"cmd":"cat note.txt"}`}}, Usage: usage},
			testkit.Script{Text: "The note says HERON-2718.", Usage: usage},
		)
		res := e.codex(t, r, e.token, "Print note.txt with cat and tell me the secret word.")
		wantSuccess(t, res, "The note says HERON-2718.")
		client, ups := onPath(e.tap.since(n), "/v1/responses"), upstreamSince(e.openai, m)
		if len(client) != 2 || len(ups) != 2 {
			t.Fatalf("Codex sent %d responses requests, the upstream got %d; want 2 and 2", len(client), len(ups))
		}
		// The second turn carries the command's output, run by Codex (a function_call_output item).
		if !strings.Contains(string(ups[1].Body), "HERON-2718") {
			t.Errorf("the second upstream request lacks the command's output")
		}
		for i := range ups {
			wantPassedThrough(t, client[i], ups[i])
		}
	})

	t.Run("cross-provider anthropic", func(t *testing.T) {
		r := e.newRun(t)
		m := e.anthropic.RequestCount()
		e.anthropic.Enqueue(testkit.Script{Text: "Claude answered Codex through Polydev.", Usage: testkit.DefaultUsage})
		res := e.codex(t, r, e.token, "-m", "anthropic/claude-sonnet-4-5", "Say hello")
		wantSuccess(t, res, "Claude answered Codex through Polydev.")
		ups := upstreamSince(e.anthropic, m)
		if len(ups) != 1 || !strings.HasPrefix(ups[0].Model(), "claude-sonnet-4-5") {
			t.Fatalf("Anthropic upstream got %d requests (model %q), want 1 for claude-sonnet-4-5", len(ups), modelOf(ups))
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		r := e.newRun(t)
		r.bound = wrongTokenBound
		n, m := e.tap.count(), e.openai.RequestCount()
		res := e.codex(t, r, wrongToken, "Say hello")
		if res.exit == 0 {
			t.Fatalf("codex succeeded with a wrong token: %s", res)
		}
		// Codex retries a failed turn a fixed 5 times ("Reconnecting... n/5" on its output) whatever the
		// answer says (x-should-retry included): 6 requests is its own visible, bounded budget.
		if got := len(e.tap.since(n)); got < 1 || got > 6 {
			t.Errorf("Codex sent %d requests with a wrong token, want at most 6:%s\n%s", got, describe(e.tap.since(n)), res)
		}
		if out := res.stdout + res.stderr; !strings.Contains(out, "401") {
			t.Errorf("no clear message about the token: %s", res)
		}
		if e.openai.RequestCount() != m {
			t.Error("a request with a wrong token reached the upstream")
		}
	})
	wantNoToken(t, e.token, e.openai, e.anthropic, e.gemini)
}
