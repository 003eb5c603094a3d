package openai

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strconv"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/internal/jsonw"
	"github.com/polydev/polydev/gateway/llm"
)

// EmbedOptions shape the embeddings answer.
type EmbedOptions struct {
	// Base64 is encoding_format "base64": each vector as the base64 of its little-endian float32s
	// (what the openai JS SDK asks for by default).
	Base64 bool
}

type wireEmbedRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
}

// maxEmbedInputs is OpenAI's limit on inputs per request.
const maxEmbedInputs = 2048

// DecodeEmbeddings parses a POST /v1/embeddings body: input is a string, an array of strings, an
// array of tokens or an array of token arrays.
func DecodeEmbeddings(body []byte) (*llm.EmbedRequest, EmbedOptions, error) {
	var w wireEmbedRequest
	if err := wire.Decode(body, &w); err != nil {
		return nil, EmbedOptions{}, err
	}
	var opts EmbedOptions
	switch {
	case w.Model == "":
		return nil, opts, polydev.Errorf(polydev.EINVALID, "model: required")
	case len(w.Model) > maxModelLen:
		return nil, opts, wire.Invalid("model", "longer than %d characters", maxModelLen)
	case w.Dimensions != nil && *w.Dimensions < 1:
		return nil, opts, wire.Invalid("dimensions", "must be at least 1")
	}
	switch w.EncodingFormat {
	case "", "float":
	case "base64":
		opts.Base64 = true
	default:
		return nil, opts, wire.Invalid("encoding_format", "must be \"float\" or \"base64\"")
	}
	r := &llm.EmbedRequest{Model: w.Model, User: w.User}
	if w.Dimensions != nil {
		r.Dimensions = *w.Dimensions
	}
	if err := decodeEmbedInput(w.Input, r); err != nil {
		return nil, opts, err
	}
	return r, opts, nil
}

func decodeEmbedInput(raw json.RawMessage, r *llm.EmbedRequest) error {
	if !present(raw) {
		return polydev.Errorf(polydev.EINVALID, "input: required")
	}
	var one string
	if raw[0] == '"' {
		if json.Unmarshal(raw, &one) != nil || one == "" {
			return wire.Invalid("input", "must be a non-empty string")
		}
		r.Texts = []string{one}
		return nil
	}
	var texts []string
	if json.Unmarshal(raw, &texts) == nil {
		r.Texts = texts
	} else {
		var tokens []int64
		if json.Unmarshal(raw, &tokens) == nil {
			r.Tokens = [][]int64{tokens}
		} else if json.Unmarshal(raw, &r.Tokens) != nil {
			return wire.Invalid("input", "must be a string, an array of strings, an array of tokens or an array of token arrays")
		}
	}
	n := r.Inputs()
	if n == 0 || n > maxEmbedInputs {
		return wire.Invalid("input", "must hold 1 to %d inputs", maxEmbedInputs)
	}
	for i, s := range r.Texts {
		if s == "" {
			return wire.Invalid("input["+itoa(i)+"]", "must not be empty")
		}
	}
	for i, t := range r.Tokens {
		if len(t) == 0 {
			return wire.Invalid("input["+itoa(i)+"]", "must not be empty")
		}
	}
	return nil
}

// WriteEmbeddings writes OpenAI's embeddings list: one entry per vector, then the model and the
// usage (prompt_tokens = total_tokens = the input tokens).
func WriteEmbeddings(w http.ResponseWriter, resp *llm.EmbedResponse, opts EmbedOptions) error {
	b := make([]byte, 0, 64+len(resp.Vectors)*(64+12*len(firstVector(resp))))
	b = append(b, `{"object":"list","data":[`...)
	for i, v := range resp.Vectors {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		if opts.Base64 {
			raw := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(f))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = append(b, '[')
			for j, f := range v {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendFloat32(b, f)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = jsonw.String(b, resp.Model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(resp.Usage.InputTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(resp.Usage.InputTokens), 10)
	b = append(b, "}}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b)
	return err
}

func firstVector(r *llm.EmbedResponse) []float32 {
	if len(r.Vectors) == 0 {
		return nil
	}
	return r.Vectors[0]
}

// appendFloat32 writes f as the shortest decimal that reads back as the same float32; a NaN or an
// infinity (which no provider sends, and JSON cannot carry) becomes 0.
func appendFloat32(b []byte, f float32) []byte {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, float64(f), 'g', -1, 32)
}
