package pricing

import (
	"testing"

	"github.com/polydev/polydev"
)

// TestWebSearchCost: Anthropic's web searches cost $10 per 1,000 (the embedded table's
// serverTools) on any Anthropic model, an admin's override row included, beside the tokens; other
// providers have no such fee; a huge count saturates nothing it should not.
func TestWebSearchCost(t *testing.T) {
	t.Parallel()
	if got := WebSearchPer1K(polydev.ProviderAnthropic); got != 10_000_000 {
		t.Fatalf("anthropic web search per 1K = %d micro-dollars, want $10", got)
	}
	if got := WebSearchPer1K(polydev.ProviderOpenAI); got != 0 {
		t.Fatalf("openai web search per 1K = %d", got)
	}
	override := &polydev.ModelPrice{Model: "anthropic/claude-sonnet-4-5", InputPerMTok: 3_000_000, OutputPerMTok: 15_000_000}
	tokens := Usage{InputTokens: 1000, OutputTokens: 100}
	base := Cost(override, tokens)
	with := tokens
	with.WebSearches = 3
	if got := Cost(override, with); got != base+30_000 {
		t.Fatalf("3 searches: %d, want %d + 30000", got, base)
	}
	openai := &polydev.ModelPrice{Model: "openai/gpt-4o", InputPerMTok: 2_500_000}
	if Cost(openai, with) != Cost(openai, tokens) {
		t.Fatal("an OpenAI model billed web searches")
	}
	with.WebSearches = MaxTokens
	if got := Cost(override, with); got != base+10_000_000_000_000 {
		t.Fatalf("a billion searches: %d", got)
	}
	with.WebSearches = -5
	if Cost(override, with) != base {
		t.Fatal("a negative count changed the cost")
	}
}
