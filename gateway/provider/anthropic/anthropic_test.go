package anthropic

import (
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/providertest"
	"github.com/polydev/polydev/internal/testkit"
)

// expect: Anthropic reports cache writes but no separate reasoning count.
func expect(u testkit.Usage) llm.Usage {
	return llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CacheReadTokens: u.CachedTokens, CacheWriteTokens: u.CacheWriteTokens}
}

func TestSuite(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Config{
		Provider: &Provider{}, New: testkit.NewAnthropic, Model: "claude-sonnet-4-5",
		Expect: expect, InStreamErrorKind: llm.ErrOverloaded,
	})
}
