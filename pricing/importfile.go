package pricing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/polydev/polydev"
)

// ParseImport reads a price list for `polydev pricing import`: either Polydev's own format (the shape
// of prices.json: {"models": {"provider/model": {"input": dollars per million tokens, ...}}}) or
// LiteLLM's model_prices_and_context_window.json (dollars per token, keyed by model, with
// litellm_provider and mode). Only models of the providers Polydev serves are kept (LiteLLM's
// "openai", "anthropic" and "gemini"; its chat, responses and embedding modes); skipped counts the
// entries left out. Any malformed kept entry fails the whole file, so nothing is half imported.
func ParseImport(data []byte, now time.Time) (rows []*polydev.ModelPrice, skipped int, err error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, 0, fmt.Errorf("not a JSON object: %w", err)
	}
	if m, ok := probe["models"]; ok && bytes.HasPrefix(bytes.TrimSpace(m), []byte("{")) {
		rows, err = parseOwn(data, now)
	} else {
		rows, skipped, err = parseLiteLLM(probe, now)
	}
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(rows, func(a, b *polydev.ModelPrice) int { return strings.Compare(a.Model, b.Model) })
	return rows, skipped, nil
}

func parseOwn(data []byte, now time.Time) ([]*polydev.ModelPrice, error) {
	var f defaultsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("price file: %w", err)
	}
	rows := make([]*polydev.ModelPrice, 0, len(f.Models))
	for name, m := range f.Models {
		if err := CheckModelName(name); err != nil {
			return nil, err
		}
		p, err := m.price(name, now)
		if err != nil {
			return nil, err
		}
		rows = append(rows, p)
	}
	return rows, nil
}

// liteLLMProviders maps LiteLLM's provider names to ours.
var liteLLMProviders = map[string]polydev.Provider{
	"openai": polydev.ProviderOpenAI, "anthropic": polydev.ProviderAnthropic, "gemini": polydev.ProviderGemini,
}

type liteLLMEntry struct {
	Provider    string          `json:"litellm_provider"`
	Mode        string          `json:"mode"`
	Input       *float64        `json:"input_cost_per_token"`
	Output      *float64        `json:"output_cost_per_token"`
	CacheRead   *float64        `json:"cache_read_input_token_cost"`
	CacheWrite  *float64        `json:"cache_creation_input_token_cost"`
	MaxOutput   json.RawMessage `json:"max_output_tokens"`
	MaxInput    json.RawMessage `json:"max_input_tokens"`
	LegacyLimit json.RawMessage `json:"max_tokens"`
}

func parseLiteLLM(all map[string]json.RawMessage, now time.Time) ([]*polydev.ModelPrice, int, error) {
	var rows []*polydev.ModelPrice
	skipped := 0
	seen := map[string]bool{}
	for key, raw := range all {
		var e liteLLMEntry
		if json.Unmarshal(raw, &e) != nil {
			skipped++ // sample_spec and other entries of another shape
			continue
		}
		prov, ok := liteLLMProviders[e.Provider]
		if !ok || e.Input == nil || !(e.Mode == "chat" || e.Mode == "responses" || e.Mode == "embedding") {
			skipped++
			continue
		}
		id := key
		if p, rest, ok := strings.Cut(key, "/"); ok && p == e.Provider {
			id = rest // LiteLLM writes Gemini's models as gemini/<id>
		}
		name := string(prov) + "/" + id
		if CheckModelName(name) != nil || seen[name] {
			skipped++
			continue
		}
		seen[name] = true
		p := &polydev.ModelPrice{Model: name, UpdatedAt: now}
		for _, c := range []struct {
			dst *polydev.Money
			v   *float64
		}{{&p.InputPerMTok, e.Input}, {&p.OutputPerMTok, e.Output}, {&p.CachedInputPerMTok, e.CacheRead}, {&p.CacheWritePerMTok, e.CacheWrite}} {
			if c.v == nil {
				continue
			}
			v, err := polydev.MoneyFromDollars(*c.v * 1e6) // per token → per million tokens
			if err != nil {
				return nil, 0, fmt.Errorf("%s: %w", key, err)
			}
			*c.dst = v
		}
		p.MaxOutputTokens = tokenLimit(e.MaxOutput)
		if p.MaxOutputTokens == 0 {
			p.MaxOutputTokens = tokenLimit(e.LegacyLimit)
		}
		p.ContextWindow = tokenLimit(e.MaxInput)
		rows = append(rows, p)
	}
	return rows, skipped, nil
}

// tokenLimit reads a LiteLLM limit: a number, or 0 when absent, not a number (its sample entry
// holds prose) or out of range.
func tokenLimit(raw json.RawMessage) int64 {
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > MaxTokens {
		return 0
	}
	return int64(f)
}

// CheckModelName validates a "provider/model" name for the price table: a known provider, a model
// id without whitespace, control characters or '*', at most 200 bytes.
func CheckModelName(m string) error {
	_, name, ok := polydev.SplitModel(m)
	if !ok || len(m) > maxModelName || strings.ContainsAny(name, "*") ||
		strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return polydev.Errorf(polydev.EINVALID, "model %q must be provider/model with a provider of openai, anthropic, gemini, openai-compatible", truncate(m, 60))
	}
	return nil
}
