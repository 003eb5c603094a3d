package testkit

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
)

// Embeddings, as documented by OpenAI (POST /v1/embeddings: input a string or an array of strings
// or token arrays; encoding_format float or base64; dimensions; usage.prompt_tokens) and Google
// (POST models/{model}:embedContent {content:{parts:[{text}]}, outputDimensionality} →
// {embedding:{values}}, :batchEmbedContents {requests:[...]} → {embeddings:[{values}]}, no token
// counts). Vectors are deterministic: EmbeddingVector(text, dims) is what a test expects back.

// DefaultEmbeddingDims is the vector length when the request names none.
const DefaultEmbeddingDims = 8

// EmbeddingVector is the vector the fakes answer for text: values in [-1, 1) derived from an
// FNV hash of the text and the position, exact in float32.
func EmbeddingVector(text string, dims int) []float32 {
	if dims <= 0 {
		dims = DefaultEmbeddingDims
	}
	out := make([]float32, dims)
	for i := range out {
		h := fnv.New32a()
		fmt.Fprintf(h, "%d:%s", i, text)
		out[i] = float32(int32(h.Sum32()>>8)-1<<23) / (1 << 23)
	}
	return out
}

// EmbeddingTokens is the token count the OpenAI fake reports for a text (a byte estimate, at least 1).
func EmbeddingTokens(text string) int { return max(1, (len(text)+3)/4) }

type openaiEmbedRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

// embedInputs reads OpenAI's input forms (a string, an array of strings, an array of integer
// tokens or of token arrays); token arrays are embedded by their JSON text. Empty strings and
// other values are refused, as OpenAI refuses them.
func embedInputs(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, one != ""
	}
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) != nil || len(many) == 0 {
		return nil, false
	}
	var tokens []int64
	if json.Unmarshal(raw, &tokens) == nil {
		return []string{string(raw)}, true
	}
	out := make([]string, len(many))
	for i, m := range many {
		if json.Unmarshal(m, &out[i]) == nil {
			if out[i] == "" {
				return nil, false
			}
		} else if json.Unmarshal(m, &tokens) == nil && len(tokens) > 0 {
			out[i] = string(m)
		} else {
			return nil, false
		}
	}
	return out, true
}

func (d openaiDialect) serveEmbeddings(u *Upstream, w http.ResponseWriter, r *http.Request) {
	rq := u.begin(r)
	defer u.end(rq)
	if !u.authorized(rq) {
		write(w, d.rejectKey(rq.key, rq.keyPresent))
		return
	}
	var req openaiEmbedRequest
	if json.Unmarshal(rq.body, &req) != nil {
		write(w, openaiBadJSON)
		return
	}
	if req.Model == "" {
		write(w, openaiNoModel)
		return
	}
	if len(req.Input) == 0 {
		write(w, openaiError(http.StatusBadRequest, ErrorReply{Message: "'input' is a required property"}, nil, nil))
		return
	}
	inputs, ok := embedInputs(req.Input)
	if !ok {
		write(w, openaiError(http.StatusBadRequest, ErrorReply{Message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."}, nil, nil))
		return
	}
	if f := req.EncodingFormat; f != "" && f != "float" && f != "base64" {
		write(w, openaiError(http.StatusBadRequest, ErrorReply{Message: "Invalid value: '" + f + "'. Supported values are: 'float' and 'base64'."}, "encoding_format", "invalid_value"))
		return
	}
	if rep := u.next(rq.key); rep.status != http.StatusOK {
		write(w, rep) // scripted failures apply to embeddings too
		return
	}
	data := make(arr, len(inputs))
	tokens := 0
	for i, text := range inputs {
		vec := EmbeddingVector(text, req.Dimensions)
		tokens += EmbeddingTokens(text)
		var emb any
		if req.EncodingFormat == "base64" {
			b := make([]byte, 4*len(vec))
			for j, v := range vec {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
			}
			emb = base64.StdEncoding.EncodeToString(b)
		} else {
			fl := make(arr, len(vec))
			for j, v := range vec {
				fl[j] = raw(strconv.AppendFloat(nil, float64(v), 'g', -1, 32))
			}
			emb = fl
		}
		data[i] = obj{{"object", "embedding"}, {"index", i}, {"embedding", emb}}
	}
	body := obj{{"object", "list"}, {"data", data}, {"model", req.Model},
		{"usage", obj{{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}
	write(w, &reply{status: http.StatusOK, header: openaiJSONHeader, body: indented(body, "  ")})
}

type geminiEmbedContent struct {
	Model   string `json:"model"`
	Content struct {
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"content"`
	OutputDimensionality int `json:"outputDimensionality"`
}

func (c *geminiEmbedContent) text() string {
	s := ""
	for _, p := range c.Content.Parts {
		s += p.Text
	}
	return s
}

func geminiValues(c *geminiEmbedContent) obj {
	vec := EmbeddingVector(c.text(), c.OutputDimensionality)
	fl := make(arr, len(vec))
	for j, v := range vec {
		fl[j] = raw(strconv.AppendFloat(nil, float64(v), 'g', -1, 32))
	}
	return obj{{"values", fl}}
}

// serveGeminiEmbed answers :embedContent and :batchEmbedContents for model.
func (u *Upstream) serveGeminiEmbed(w http.ResponseWriter, rq *inbound, model, action string) {
	if rep := u.next(rq.key); rep.status != http.StatusOK {
		write(w, rep)
		return
	}
	var body obj
	if action == "embedContent" {
		var req geminiEmbedContent
		if err := json.Unmarshal(rq.body, &req); err != nil {
			write(w, geminiBadJSON(err))
			return
		}
		if len(req.Content.Parts) == 0 {
			write(w, geminiError(http.StatusBadRequest, ErrorReply{Message: "* EmbedContentRequest.content: contents is not specified\n"}))
			return
		}
		body = obj{{"embedding", geminiValues(&req)}}
	} else {
		var req struct {
			Requests []geminiEmbedContent `json:"requests"`
		}
		if err := json.Unmarshal(rq.body, &req); err != nil {
			write(w, geminiBadJSON(err))
			return
		}
		embs := make(arr, len(req.Requests))
		for i := range req.Requests {
			if want := "models/" + model; req.Requests[i].Model != want {
				write(w, geminiError(http.StatusBadRequest, ErrorReply{Message: fmt.Sprintf("* BatchEmbedContentsRequest.model: unexpected model name format (requests[%d].model must be %s)\n", i, want)}))
				return
			}
			embs[i] = geminiValues(&req.Requests[i])
		}
		body = obj{{"embeddings", embs}}
	}
	write(w, &reply{status: http.StatusOK, header: geminiJSONHeader, body: indented(body, "  ")})
}
