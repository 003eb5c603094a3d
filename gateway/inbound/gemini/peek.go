package gemini

import (
	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/internal/jsonscan"
)

// PeekMaxOutputTokens reads generationConfig.maxOutputTokens (0 when absent) from a request body
// that is forwarded to Gemini as written, for the reservation, without decoding anything else. A
// body that is not a JSON object, or that gives generationConfig or maxOutputTokens twice (under
// either spelling: parsers keep one, and the reservation must cover the one the upstream uses), is
// refused.
func PeekMaxOutputTokens(body []byte) (int, error) {
	var sc jsonscan.Scanner
	sc.Reset(body)
	if !sc.Object() {
		return 0, polydev.Errorf(polydev.EINVALID, "request body must be a JSON object")
	}
	n, seenConfig, seenMax := 0, false, false
	for {
		key, ok := sc.Key()
		if !ok {
			break
		}
		if k := string(key); k != "generationConfig" && k != "generation_config" {
			sc.Skip()
			continue
		}
		if seenConfig {
			return 0, polydev.Errorf(polydev.EINVALID, "generationConfig: given twice")
		}
		seenConfig = true
		if sc.Null() || !sc.Object() {
			continue
		}
		for {
			key, ok := sc.Key()
			if !ok {
				break
			}
			if k := string(key); k != "maxOutputTokens" && k != "max_output_tokens" {
				sc.Skip()
				continue
			}
			if seenMax {
				return 0, polydev.Errorf(polydev.EINVALID, "generationConfig.maxOutputTokens: given twice")
			}
			seenMax = true
			if !sc.Null() {
				n = sc.Int()
			}
		}
	}
	if err := sc.End(); err != nil || n < 0 {
		return 0, polydev.Errorf(polydev.EINVALID, "request body is not valid JSON, or generationConfig.maxOutputTokens is not a non-negative integer")
	}
	return n, nil
}
