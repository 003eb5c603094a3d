package gemini

import (
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/providertest"
	"github.com/polydev/polydev/internal/testkit"
)

// expect: Gemini reports cached reads and thoughts but no cache writes.
func expect(u testkit.Usage) llm.Usage {
	return llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CacheReadTokens: u.CachedTokens, ReasoningTokens: u.ReasoningTokens}
}

func TestSuite(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Config{
		Provider: &Provider{}, New: testkit.NewGemini, Model: "gemini-2.5-flash",
		Expect: expect, InStreamErrorKind: llm.ErrOverloaded,
	})
}
