package pricing

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"sync"

	"github.com/polydev/polydev"
)

// MaxTokens bounds every token count that enters accounting: a provider's reported usage is clamped
// to [0, MaxTokens] per count (the router logs a warning when it clamps), and a request's max_tokens
// is never reserved beyond it. No model reads or writes a billion tokens in one request, so only a
// broken or hostile upstream reaches it.
const MaxTokens = 1_000_000_000

// Usage is the token counts Cost needs (the gateway's usage, without the estimate flags).
type Usage struct {
	InputTokens      int // all prompt tokens, cached and cache-written included
	OutputTokens     int // all generated tokens, reasoning included
	CacheReadTokens  int // part of InputTokens
	CacheWriteTokens int // part of InputTokens
	WebSearches      int // server-side web searches, billed per search (WebSearchPer1K)
}

// Cost returns what usage costs at price p, in micro-dollars, rounded to the nearest micro-dollar.
// Cached and cache-written prompt tokens are billed at their own prices, the rest of the input at the
// base price; reasoning tokens are part of the output; server-side web searches cost their
// provider's fee per search (WebSearchPer1K, whatever the model's row says). A price of zero for cached input means the
// model has no cache discount: those tokens are billed at the base price. A prompt longer than the
// price's long-context threshold bills the whole request at the long-context rates.
//
// The arithmetic is exact in 128 bits and the result saturates at polydev.MaxMoney (a billion
// dollars, above any budget), so no count or price, however large, can wrap a cost around to a small
// or negative amount. Negative counts and prices count as zero.
func Cost(p *polydev.ModelPrice, u Usage) polydev.Money {
	if p == nil {
		return 0
	}
	if lc := p.LongContext; lc != nil && int64(u.InputTokens) > lc.AboveInputTokens {
		p = &polydev.ModelPrice{InputPerMTok: lc.InputPerMTok, OutputPerMTok: lc.OutputPerMTok,
			CachedInputPerMTok: lc.CachedInputPerMTok, CacheWritePerMTok: lc.CacheWritePerMTok}
	}
	cachedPrice, writePrice := p.CachedInputPerMTok, p.CacheWritePerMTok
	if cachedPrice == 0 {
		cachedPrice = p.InputPerMTok
	}
	if writePrice == 0 {
		writePrice = p.InputPerMTok
	}
	in, read, write := nonNeg(u.InputTokens), nonNeg(u.CacheReadTokens), nonNeg(u.CacheWriteTokens)
	uncached := uint64(0)
	if in > read && in-read > write {
		uncached = in - read - write
	}
	var s sum128
	s.add(uncached, p.InputPerMTok)
	s.add(read, cachedPrice)
	s.add(write, writePrice)
	s.add(nonNeg(u.OutputTokens), p.OutputPerMTok)
	if prov, _, ok := polydev.SplitModel(p.Model); ok && u.WebSearches > 0 {
		// Per 1,000 searches; the sum is in micro-dollars per million, so ×1000 per search.
		s.add(nonNeg(u.WebSearches), WebSearchPer1K(prov)*1000)
	}
	s.add(1, 500_000) // rounds the division below to the nearest micro-dollar
	if s.hi >= 1_000_000 {
		return polydev.MaxMoney // the quotient would not even fit 64 bits
	}
	q, _ := bits.Div64(s.hi, s.lo, 1_000_000)
	if q > uint64(polydev.MaxMoney) {
		return polydev.MaxMoney
	}
	return polydev.Money(q)
}

// sum128 is an unsigned 128-bit accumulator of token × price products. Each product of two values
// below 2^63 has a high word below 2^62, so the few terms Cost adds cannot overflow it.
type sum128 struct{ hi, lo uint64 }

func (s *sum128) add(tokens uint64, price polydev.Money) {
	if price <= 0 {
		return
	}
	h, l := bits.Mul64(tokens, uint64(price))
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, l, 0)
	s.hi += h + carry
}

func nonNeg(n int) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// WebSearchPer1K is what 1,000 server-side web searches cost on prov's models (Anthropic's web
// search tool), from the embedded table's serverTools; 0 for a provider without such a fee.
func WebSearchPer1K(prov polydev.Provider) polydev.Money {
	return serverTools()[prov]
}

var serverTools = sync.OnceValue(func() map[polydev.Provider]polydev.Money {
	var f defaultsFile
	if err := json.Unmarshal(defaultsJSON, &f); err != nil {
		panic("pricing: embedded prices.json is invalid: " + err.Error())
	}
	out := map[polydev.Provider]polydev.Money{}
	for prov, st := range f.ServerTools {
		m, err := polydev.MoneyFromDollars(st.WebSearchPer1K)
		if err != nil || !prov.Valid() {
			panic(fmt.Sprintf("pricing: prices.json serverTools %q: %v", prov, err))
		}
		out[prov] = m
	}
	return out
})
