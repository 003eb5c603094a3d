package llm

// EmbedRequest asks for one embedding vector per input. Exactly one of Texts and Tokens is set.
type EmbedRequest struct {
	// Model is the upstream model id, without the gateway's "provider/" prefix.
	Model string
	Texts []string
	// Tokens are pre-tokenized inputs (OpenAI's token-array input form); only OpenAI-format
	// upstreams take them.
	Tokens [][]int64
	// Dimensions asks for shorter vectors (OpenAI dimensions, Gemini outputDimensionality); 0 is
	// the model's default.
	Dimensions int
	User       string
}

// Inputs is the number of vectors asked for.
func (r *EmbedRequest) Inputs() int { return len(r.Texts) + len(r.Tokens) }

// EmbedResponse holds the vectors in input order and the usage (InputTokens only).
type EmbedResponse struct {
	Model   string
	Vectors [][]float32
	Usage   Usage
}
