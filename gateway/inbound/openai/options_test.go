package openai

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/polydev/polydev/gateway/llm"
)

func TestDecodeOptions(t *testing.T) {
	t.Parallel()
	const msgs = `"model":"m","messages":[{"role":"user","content":"x"}]`
	seed, fp, pp := int64(42), 0.5, -1.0
	cases := []struct {
		name   string
		fields string
		check  func(r *llm.Request) any
		want   any
	}{
		{"json_object", `"response_format":{"type":"json_object"}`,
			func(r *llm.Request) any { return r.ResponseFormat }, &llm.ResponseFormat{Type: llm.FormatJSONObject}},
		{"text", `"response_format":{"type":"text"}`,
			func(r *llm.Request) any { return r.ResponseFormat }, (*llm.ResponseFormat)(nil)},
		{"json_schema", `"response_format":{"type":"json_schema","json_schema":{"name":"person","description":"d","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}}}}}`,
			func(r *llm.Request) any { return r.ResponseFormat },
			&llm.ResponseFormat{Type: llm.FormatJSONSchema, Name: "person", Description: "d", Strict: true, Schema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}}}`)}},
		{"reasoning_effort", `"reasoning_effort":"high"`,
			func(r *llm.Request) any { return r.Reasoning }, &llm.Reasoning{Effort: "high"}},
		{"sampling", `"seed":42,"frequency_penalty":0.5,"presence_penalty":-1`,
			func(r *llm.Request) any { return []any{r.Seed, r.FrequencyPenalty, r.PresencePenalty} }, []any{&seed, &fp, &pp}},
		{"default penalties are nothing to forward", `"frequency_penalty":0,"presence_penalty":0`,
			func(r *llm.Request) any { return []*float64{r.FrequencyPenalty, r.PresencePenalty} }, []*float64{nil, nil}},
		{"defaults are not native", `"n":1,"logprobs":false,"top_logprobs":0,"logit_bias":{},"service_tier":"auto","modalities":["text"],"store":false,"verbosity":"medium","metadata":{"a":"b"},"prediction":{"type":"content","content":"x"},"functions":null`,
			func(r *llm.Request) any { return r.Native.Fields }, []string(nil)},
		{"native fields", `"n":2,"logprobs":true,"top_logprobs":2,"logit_bias":{"1":5},"service_tier":"flex","modalities":["text","audio"],"audio":{"voice":"alloy"},"store":true,"functions":[{"name":"f"}],"function_call":"auto","web_search_options":{},"verbosity":"low"`,
			func(r *llm.Request) any { return r.Native.Fields },
			[]string{"n", "logprobs", "top_logprobs", "logit_bias", "service_tier", "modalities", "store", "verbosity", "audio", "functions", "function_call", "web_search_options"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _, err := DecodeRequest([]byte(`{` + msgs + `,` + c.fields + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.check(r); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %#v, want %#v", got, c.want)
			}
			if r.Native.Format != llm.NativeOpenAIChat {
				t.Errorf("native format %q", r.Native.Format)
			}
		})
	}
}
