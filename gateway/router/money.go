package router

import (
	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/pricing"
)

// errUnpriced refuses a model without a price on key k: a platform key, or a key with a monthly
// budget, whose money must never be spent at an unknown price.
func errUnpriced(route *Route, k *polydev.ProviderKey) error {
	whose := "a key with a monthly budget"
	if k.UserID == "" {
		whose = "a platform key"
	}
	return polydev.Errorf(polydev.EFORBIDDEN, "model %s has no price on this server, so it cannot run on %s: %s; "+
		"or use a key of your own without a monthly budget (such requests are recorded as unpriced)", route.Model, whose, pricing.HowToPrice)
}

// boundUsage is where an upstream's token counts enter accounting: each is clamped to
// [0, pricing.MaxTokens], with a warning, so that a broken or hostile upstream can neither make a
// request free (negative counts) nor wrap a key's spend around (10^15 tokens).
func (r *Router) boundUsage(route *Route, u llm.Usage) llm.Usage {
	clamped := false
	for _, n := range []*int{&u.InputTokens, &u.OutputTokens, &u.CacheReadTokens, &u.CacheWriteTokens, &u.ReasoningTokens, &u.WebSearches} {
		if *n < 0 || *n > pricing.MaxTokens {
			*n = min(max(*n, 0), pricing.MaxTokens)
			clamped = true
		}
	}
	if clamped {
		r.Log.Warn("upstream reported token counts out of range; clamped to [0, 1e9]", "provider", route.Provider, "model", route.Model)
	}
	return u
}
