package openai

import (
	"testing"

	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/gateway/provider/internal/providertest"
	"github.com/polydev/polydev/internal/testkit"
)

func expect(u testkit.Usage) llm.Usage {
	return llm.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CacheReadTokens: u.CachedTokens, ReasoningTokens: u.ReasoningTokens}
}

func TestSuite(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Config{
		Provider: &Provider{}, New: testkit.NewOpenAI, Model: "gpt-4o-mini",
		Expect: expect, InStreamErrorKind: llm.ErrServer,
	})
}
