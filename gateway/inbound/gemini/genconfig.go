package gemini

import (
	"strings"

	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
)

// maxStopSequences is Gemini's own limit.
const maxStopSequences = 5

func decodeGenConfig(field string, g *wireGenConfig, r *llm.Request) error {
	if g == nil {
		return nil
	}
	switch {
	case g.MaxOutputTokens != nil && *g.MaxOutputTokens < 0:
		return wire.Invalid(field+".maxOutputTokens", "must not be negative")
	case g.Temperature != nil && (*g.Temperature < 0 || *g.Temperature > 2):
		return wire.Invalid(field+".temperature", "must be between 0 and 2")
	case g.TopP != nil && (*g.TopP < 0 || *g.TopP > 1):
		return wire.Invalid(field+".topP", "must be between 0 and 1")
	case g.TopK != nil && *g.TopK < 0:
		return wire.Invalid(field+".topK", "must not be negative")
	case len(g.StopSequences) > maxStopSequences:
		return wire.Invalid(field+".stopSequences", "at most %d", maxStopSequences)
	case g.CandidateCount != nil && *g.CandidateCount > 1:
		return wire.Invalid(field+".candidateCount", "only 1 candidate can be translated for another provider")
	case g.CandidateCount != nil && *g.CandidateCount < 0:
		return wire.Invalid(field+".candidateCount", "must not be negative")
	case g.ResponseLogprobs || g.Logprobs != nil:
		return crossOnly(field+".responseLogprobs", "log probabilities")
	case len(g.SpeechConfig) > 0 && string(g.SpeechConfig) != "null":
		return crossOnly(field+".speechConfig", "speech output")
	case len(g.ImageConfig) > 0 && string(g.ImageConfig) != "null":
		return crossOnly(field+".imageConfig", "image output")
	}
	for _, m := range g.ResponseModalities {
		if !strings.EqualFold(m, "TEXT") {
			return wire.Invalid(field+".responseModalities", "%q output cannot be translated for another provider (TEXT only)", m)
		}
	}
	for name, p := range map[string]*float64{"presencePenalty": g.PresencePenalty, "frequencyPenalty": g.FrequencyPenalty} {
		if p != nil && (*p < -2 || *p > 2) {
			return wire.Invalid(field+"."+name, "must be between -2 and 2")
		}
	}
	if g.MaxOutputTokens != nil {
		r.MaxTokens = *g.MaxOutputTokens
	}
	r.Temperature, r.TopP, r.Stop = g.Temperature, g.TopP, g.StopSequences
	r.Seed, r.PresencePenalty, r.FrequencyPenalty = g.Seed, g.PresencePenalty, g.FrequencyPenalty
	if err := thinking(field+".thinkingConfig", g.ThinkingConfig, r); err != nil {
		return err
	}
	return outputFormat(field, g, r)
}
