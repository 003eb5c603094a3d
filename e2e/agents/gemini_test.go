package agents

import (
	"strings"
	"testing"

	"github.com/polydev/polydev/internal/testkit"
)

// routerAnswer is what Gemini CLI's model router asks of its first, small model: a complexity score
// as JSON. A low score routes the turn to the CLI's flash model.
const routerAnswer = `{"complexity_reasoning":"A greeting.","complexity_score":5}`

// TestGeminiCLI runs `gemini -p` with its default model through Polydev's Gemini-native surface to
// the fake Gemini (the router's generateContent, then the turn's streamGenerateContent), an OpenAI
// model across providers, and a wrong token.
func TestGeminiCLI(t *testing.T) {
	e := newEnv(t)
	usage := testkit.Usage{PromptTokens: 9000, CompletionTokens: 40, CachedTokens: 4000, ReasoningTokens: 12}

	t.Run("prompt", func(t *testing.T) {
		r := e.newRun(t)
		n, m := e.tap.count(), e.gemini.RequestCount()
		e.gemini.Enqueue(
			testkit.Script{Text: routerAnswer, Chunks: 1, Usage: testkit.Usage{PromptTokens: 900, CompletionTokens: 20}},
			testkit.Script{Text: "Polydev relayed this to Gemini CLI.", Usage: usage},
		)
		res := e.geminiCLI(t, r, e.token, "-p", "Say hello")
		wantSuccess(t, res, "Polydev relayed this to Gemini CLI.")
		client, ups := e.tap.since(n), upstreamSince(e.gemini, m)
		if len(client) != len(ups) || len(ups) < 1 {
			t.Fatalf("Gemini CLI sent %d requests, the upstream got %d", len(client), len(ups))
		}
		for i := range ups {
			if ups[i].Path != client[i].Path {
				t.Errorf("request %d: client path %s reached the upstream as %s", i, client[i].Path, ups[i].Path)
			}
			wantPassedThrough(t, client[i], ups[i])
			if ups[i].Key != e.gemini.Key {
				t.Errorf("upstream credential = %q, want the platform key", ups[i].Key)
			}
		}
		if last := ups[len(ups)-1]; !strings.HasSuffix(last.Path, ":streamGenerateContent") {
			t.Errorf("the turn went to %s, want streamGenerateContent", last.Path)
		}
	})

	t.Run("cross-provider openai", func(t *testing.T) {
		r := e.newRun(t)
		m := e.openai.RequestCount()
		e.openai.Enqueue(testkit.Script{Text: "GPT answered Gemini CLI through Polydev.", Usage: testkit.DefaultUsage})
		res := e.geminiCLI(t, r, e.token, "-m", "openai/gpt-4o-mini", "-p", "Say hello")
		wantSuccess(t, res, "GPT answered Gemini CLI through Polydev.")
		ups := upstreamSince(e.openai, m)
		if len(ups) != 1 || ups[0].Model() != "gpt-4o-mini" {
			t.Fatalf("OpenAI upstream got %d requests (model %q), want 1 for gpt-4o-mini", len(ups), modelOf(ups))
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		r := e.newRun(t)
		r.bound = wrongTokenBound
		n, m := e.tap.count(), e.gemini.RequestCount()
		res := e.geminiCLI(t, r, wrongToken, "-p", "Say hello")
		if res.exit == 0 {
			t.Fatalf("gemini succeeded with a wrong token: %s", res)
		}
		// At most one try each for the router's call and the turn.
		if got := len(e.tap.since(n)); got < 1 || got > 2 {
			t.Errorf("Gemini CLI sent %d requests with a wrong token, want at most 2:%s\n%s", got, describe(e.tap.since(n)), res)
		}
		if out := res.stdout + res.stderr; !strings.Contains(out, "401") && !strings.Contains(out, "API key") {
			t.Errorf("no clear message about the key: %s", res)
		}
		if e.gemini.RequestCount() != m {
			t.Error("a request with a wrong token reached the upstream")
		}
	})
	wantNoToken(t, e.token, e.openai, e.anthropic, e.gemini)
}
