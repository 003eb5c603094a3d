package gemini

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/inbound/internal/wire"
	"github.com/polydev/polydev/gateway/llm"
	"github.com/polydev/polydev/internal/testkit"
)

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	body := `{
		"api_key":"AIza-attacker","base_url":"http://evil.invalid",
		"systemInstruction":{"role":"user","parts":[{"text":"Be brief."},{"text":"Use metric."}]},
		"contents":[
			{"role":"user","parts":[{"text":"Look:"},{"inlineData":{"mimeType":"image/png","data":"iVBOR"}},{"fileData":{"mimeType":"image/jpeg","fileUri":"https://example.com/a.jpg"}}]},
			{"role":"model","parts":[
				{"text":"hmm","thought":true},
				{"text":"Checking."},
				{"functionCall":{"name":"get_weather","args":{"location":"Paris"}},"thoughtSignature":"c2ln"},
				{"functionCall":{"id":"own-1","name":"get_time","args":{}}}
			]},
			{"role":"user","parts":[
				{"functionResponse":{"id":"own-1","name":"get_time","response":{"output":"noon"}}},
				{"functionResponse":{"name":"get_weather","response":{"temp":18,"unit":"C"}}},
				{"text":"Thanks"}
			]},
			{"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"location":"Lyon"}}}]},
			{"role":"function","parts":[{"functionResponse":{"id":"cli-made-up","name":"get_weather","response":{"error":"offline"},
				"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}]}
		],
		"tools":[{"functionDeclarations":[
			{"name":"get_weather","description":"w","parametersJsonSchema":{"type":"object","properties":{"location":{"type":"string"}}}},
			{"name":"get_time","parameters":{"type":"OBJECT","properties":{"tz":{"type":"STRING","nullable":true}},"propertyOrdering":["tz"]},
			 "response":{"type":"STRING"}}
		]}],
		"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_time"]}},
		"safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}],
		"generationConfig":{"maxOutputTokens":512,"temperature":0.3,"topP":0.9,"topK":40,"stopSequences":["END"],
			"thinkingConfig":{"includeThoughts":true,"thinkingBudget":1024},"responseModalities":["TEXT"],"candidateCount":1}
	}`
	r, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	temp, topP := 0.3, 0.9
	want := &llm.Request{
		System: "Be brief.\nUse metric.",
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Look:"),
				{Kind: llm.PartImage, Image: &llm.Image{MediaType: "image/png", Data: "iVBOR"}},
				{Kind: llm.PartImage, Image: &llm.Image{URL: "https://example.com/a.jpg", MediaType: "image/jpeg"}}}},
			{Role: llm.RoleAssistant, Content: []llm.Part{llm.TextPart("Checking."),
				{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_1_2", Name: "get_weather", Arguments: json.RawMessage(`{"location":"Paris"}`)}},
				{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "own-1", Name: "get_time", Arguments: json.RawMessage(`{}`)}}}},
			{Role: llm.RoleTool, Content: []llm.Part{
				{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "own-1", Name: "get_time", Content: []llm.Part{llm.TextPart("noon")}}},
				{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "call_1_2", Name: "get_weather", Content: []llm.Part{llm.TextPart(`{"temp":18,"unit":"C"}`)}}}}},
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Thanks")}},
			{Role: llm.RoleAssistant, Content: []llm.Part{
				{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_3_0", Name: "get_weather", Arguments: json.RawMessage(`{"location":"Lyon"}`)}}}},
			{Role: llm.RoleTool, Content: []llm.Part{
				{Kind: llm.PartToolResult, ToolResult: &llm.ToolResult{CallID: "call_3_0", Name: "get_weather", IsError: true,
					Content: []llm.Part{llm.TextPart("offline"), {Kind: llm.PartImage, Image: &llm.Image{MediaType: "image/png", Data: "AAAA"}}}}}}},
		},
		Tools: []llm.Tool{
			{Name: "get_weather", Description: "w", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}}}`)},
			{Name: "get_time", Parameters: json.RawMessage(`{"properties":{"tz":{"type":["string","null"]}},"type":"object"}`)},
		},
		ToolChoice: llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "get_time"},
		MaxTokens:  512, Temperature: &temp, TopP: &topP, Stop: []string{"END"},
		Reasoning: &llm.Reasoning{BudgetTokens: 1024, Hint: true},
	}
	if !reflect.DeepEqual(r, want) {
		g, _ := json.MarshalIndent(r, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("got %s\nwant %s", g, w)
	}
}

// TestDecodeDocuments: a PDF becomes a document, a text file its text.
func TestDecodeDocuments(t *testing.T) {
	t.Parallel()
	r, err := DecodeRequest([]byte(`{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}},` +
		`{"inlineData":{"mimeType":"text/markdown","data":"IyBIaQ=="}},{"text":"summarise"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []llm.Part{{Kind: llm.PartDocument, Document: &llm.Document{MediaType: "application/pdf", Data: "JVBERi0="}}, llm.TextPart("# Hi"), llm.TextPart("summarise")}
	if !reflect.DeepEqual(r.Messages[0].Content, want) {
		t.Errorf("got %+v", r.Messages[0].Content)
	}
}

// TestDecodeSnakeCase: Google's parser takes proto field names too, and its curl examples use them.
func TestDecodeSnakeCase(t *testing.T) {
	t.Parallel()
	body := `{"system_instruction":{"parts":[{"text":"S"}]},
		"contents":[{"role":"user","parts":[{"inline_data":{"mime_type":"image/png","data":"QQ"}},{"text":"hi"}]}],
		"tools":[{"function_declarations":[{"name":"f","parameters_json_schema":{"type":"object","properties":{"snake_key":{"type":"string"}}}}]}],
		"tool_config":{"function_calling_config":{"mode":"NONE"}},
		"generation_config":{"max_output_tokens":7,"stop_sequences":["x"]}}`
	r, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if r.System != "S" || r.MaxTokens != 7 || len(r.Stop) != 1 || r.ToolChoice.Mode != llm.ToolChoiceNone ||
		len(r.Messages) != 1 || r.Messages[0].Content[0].Image == nil || r.Messages[0].Content[0].Image.MediaType != "image/png" ||
		len(r.Tools) != 1 || !strings.Contains(string(r.Tools[0].Parameters), `"snake_key"`) {
		g, _ := json.Marshal(r)
		t.Errorf("got %s", g)
	}
}

func TestDecodeRequestInvalid(t *testing.T) {
	t.Parallel()
	user := `"contents":[{"role":"user","parts":[{"text":"x"}]}]`
	cases := map[string]string{
		``:                "empty",
		`{`:               "not valid JSON",
		`[]`:              "JSON object",
		`{}`:              "contents: is required",
		`{"contents":[]}`: "contents: is required",
		`{"contents":[{"role":"user","parts":[]}]}`:                                                              "no part has content",
		`{"contents":[{"role":"system","parts":[{"text":"x"}]}]}`:                                                "contents[0].role: must be user or model",
		`{"contents":[{"role":"user","parts":[{"text":5}]}]}`:                                                    "text",
		`{"contents":[{"role":"user","parts":[{"text":"a","inlineData":{"mimeType":"image/png","data":"x"}}]}]}`: "contents[0].parts[0]: holds more than one",
		`{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"audio/mp3","data":"x"}}]}]}`:            "contents[0].parts[0].inlineData.mimeType",
		`{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"text/plain","data":"/w=="}}]}]}`:        "base64 of UTF-8 text",
		`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f"}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{},"parts":[{"inlineData":{"mimeType":"application/pdf","data":"JVBE"}}]}}]}]}`: "images only",
		`{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png"}}]}]}`:                                                                                                  "inlineData.data",
		`{"contents":[{"role":"user","parts":[{"fileData":{"fileUri":"gs://bucket/a.png"}}]}]}`:                                                                                             "fileData.fileUri",
		`{"contents":[{"role":"user","parts":[{"fileData":{"mimeType":"video/mp4","fileUri":"https://x/v"}}]}]}`:                                                                            "fileData.mimeType",
		`{"contents":[{"role":"user","parts":[{"executableCode":{"language":"PYTHON","code":"1"}}]}]}`:                                                                                      "executableCode",
		`{"contents":[{"role":"user","parts":[{"functionCall":{"name":"f"}}]}]}`:                                                                                                            "belongs in a model content",
		`{"contents":[{"role":"model","parts":[{"functionCall":{"args":{}}}]}]}`:                                                                                                            "functionCall.name",
		`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":[1]}}]}]}`:                                                                                                "functionCall.args: must be an object",
		`{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}`:                                                                                          "answers no earlier functionCall",
		`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f"}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":"x"}}]}]}`:                                "response: must be an object",
		`{"contents":[{"role":"model","parts":[{"functionResponse":{"name":"f"}}]}]}`:                                                                                                       "belongs in a user content",
		`{"contents":[{"role":"model","parts":[{"inlineData":{"mimeType":"image/png","data":"x"}}]}]}`:                                                                                      "media in a model content",
		`{"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"x"}}]},` + user + `}`:                                                                                 "systemInstruction.parts[0]: must be a text part",
		`{"cachedContent":"cachedContents/abc",` + user + `}`:                                                                                                                               "cachedContent",
		`{"tools":[{"googleSearch":{}}],` + user + `}`:                                                                                                                                      "tools[0].googleSearch",
		`{"tools":[{"codeExecution":{}}],` + user + `}`:                                                                                                                                     "tools[0].codeExecution",
		`{"tools":[{"functionDeclarations":[{"name":"1f"}]}],` + user + `}`:                                                                                                                 "functionDeclarations[0].name",
		`{"tools":[{"functionDeclarations":[{"name":"f"},{"name":"f"}]}],` + user + `}`:                                                                                                     "declared twice",
		`{"tools":[{"functionDeclarations":[{"name":"f","parameters":{},"parametersJsonSchema":{}}]}],` + user + `}`:                                                                        "mutually exclusive",
		`{"tools":[{"functionDeclarations":[{"name":"f","parametersJsonSchema":[1]}]}],` + user + `}`:                                                                                       "parametersJsonSchema",
		`{"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"BANANA"}}]}],` + user + `}`:                                                                                   "parameters.type",
		`{"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"ARRAY","items":{"type":"X"}}}}}]}],` + user + `}`:                          "parameters.properties.a.items.type",
		`{"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"STRING","maxLength":"ten"}}]}],` + user + `}`:                                                                 "parameters.maxLength",
		`{"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"SOMETIMES"}},` + user + `}`:                                                      "functionCallingConfig.mode",
		`{"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["g"]}},` + user + `}`:                               "allowedFunctionNames[0]",
		`{"tools":[{"functionDeclarations":[{"name":"f"},{"name":"g"},{"name":"h"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f","g"]}},` + user + `}`: "allowedFunctionNames: a subset",
		`{"toolConfig":{"functionCallingConfig":{"mode":"ANY"}},` + user + `}`:                                                                                                              "ANY needs functionDeclarations",
		`{"generationConfig":{"temperature":3},` + user + `}`:                                                                                                                               "generationConfig.temperature",
		`{"generationConfig":{"topP":1.5},` + user + `}`:                                                                                                                                    "generationConfig.topP",
		`{"generationConfig":{"maxOutputTokens":-1},` + user + `}`:                                                                                                                          "generationConfig.maxOutputTokens",
		`{"generationConfig":{"maxOutputTokens":"many"},` + user + `}`:                                                                                                                      "maxOutputTokens",
		`{"generationConfig":{"candidateCount":2},` + user + `}`:                                                                                                                            "generationConfig.candidateCount",
		`{"generationConfig":{"stopSequences":["a","b","c","d","e","f"]},` + user + `}`:                                                                                                     "generationConfig.stopSequences",
		`{"generationConfig":{"responseModalities":["AUDIO"]},` + user + `}`:                                                                                                                "generationConfig.responseModalities",
		`{"generationConfig":{"responseLogprobs":true},` + user + `}`:                                                                                                                       "generationConfig.responseLogprobs",
		`{"generationConfig":{"speechConfig":{"voiceConfig":{}}},` + user + `}`:                                                                                                             "generationConfig.speechConfig",
		`{"generationConfig":{"thinkingConfig":{"thinkingLevel":"EXTREME"}},` + user + `}`:                                                                                                  "thinkingConfig.thinkingLevel",
		`{"generationConfig":{"presencePenalty":3},` + user + `}`:                                                                                                                           "generationConfig.presencePenalty",
		`{"generationConfig":{"responseMimeType":"application/json","responseSchema":{},"responseJsonSchema":{}},` + user + `}`:                                                             "mutually exclusive",
		`{"generationConfig":{"responseMimeType":"text/x.enum"},` + user + `}`:                                                                                                              "generationConfig.responseMimeType",
		`{"generationConfig":{"responseSchema":{"type":"OBJECT"}},` + user + `}`:                                                                                                            "needs application/json",
	}
	for body, want := range cases {
		_, err := DecodeRequest([]byte(body))
		if polydev.ErrorCode(err) != polydev.EINVALID || !strings.Contains(polydev.ErrorMessage(err), want) {
			t.Errorf("%s: got %v, want EINVALID mentioning %q", body, err, want)
		}
	}
}

func TestDecodeCountTokens(t *testing.T) {
	t.Parallel()
	r, err := DecodeCountTokens([]byte(`{"contents":[{"parts":[{"text":"12345678"}]}]}`))
	if err != nil || len(r.Messages) != 1 || llm.EstimateRequestTokens(r) != 2 {
		t.Fatalf("contents: %+v %v", r, err)
	}
	r, err = DecodeCountTokens([]byte(`{"generateContentRequest":{"model":"models/x","systemInstruction":{"parts":[{"text":"1234"}]},
		"contents":[{"role":"user","parts":[{"text":"1234"},{"inlineData":{"mimeType":"image/png","data":"AA"}}]}],
		"tools":[{"functionDeclarations":[{"name":"abcd"}]}]}}`))
	if err != nil || r.System != "1234" || len(r.Tools) != 1 || llm.EstimateRequestTokens(r) != 3+llm.ImageTokens {
		t.Fatalf("generateContentRequest: %+v %v (estimate %d)", r, err, llm.EstimateRequestTokens(r))
	}
	_, err = DecodeCountTokens([]byte(`{"generateContentRequest":{"contents":[],"tools":[{"googleSearch":{}}]}}`))
	if !strings.Contains(polydev.ErrorMessage(err), "generateContentRequest.contents") {
		t.Errorf("error %v does not name generateContentRequest.contents", err)
	}
}

func TestJSONSchema(t *testing.T) {
	t.Parallel()
	in := `{"type":"OBJECT","description":"d","properties":{
		"n":{"type":"INTEGER","minimum":1,"format":"int32"},
		"tags":{"type":"ARRAY","items":{"type":"STRING","enum":["a","b"]},"minItems":"1","maxItems":3},
		"either":{"anyOf":[{"type":"STRING"},{"type":"NUMBER","nullable":true}]},
		"x":{"type":"TYPE_UNSPECIFIED","example":"e","title":"T"}},
		"required":["n"],"propertyOrdering":["n","tags"]}`
	got, err := jsonSchema("p", json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"description":"d","properties":{"either":{"anyOf":[{"type":"string"},{"type":["number","null"]}]},"n":{"format":"int32","minimum":1,"type":"integer"},` +
		`"tags":{"items":{"enum":["a","b"],"type":"string"},"maxItems":3,"minItems":1,"type":"array"},"x":{"title":"T"}},"required":["n"],"type":"object"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	deep := strings.Repeat(`{"type":"ARRAY","items":`, maxSchemaDepth+2) + `{}` + strings.Repeat(`}`, maxSchemaDepth+2)
	if _, err := jsonSchema("p", json.RawMessage(deep)); !strings.Contains(polydev.ErrorMessage(err), "levels deep") {
		t.Errorf("deep schema: %v", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`))
	f.Add([]byte(`{"system_instruction":{"parts":[{"text":"s"}]},"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]},` +
		`{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"output":"x"}}}]}],` +
		`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","properties":{"a":{"type":"STRING","nullable":true}}}}]}],` +
		`"toolConfig":{"functionCallingConfig":{"mode":"ANY"}},"generationConfig":{"maxOutputTokens":5,"temperature":1}}`))
	f.Add([]byte(`{"generateContentRequest":{"contents":[{"parts":[{"inline_data":{"mime_type":"image/png","data":"x"}}]}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, decode := range []func([]byte) (*llm.Request, error){DecodeRequest, DecodeCountTokens} {
			r, err := decode(body)
			if err != nil {
				if polydev.ErrorCode(err) != polydev.EINVALID {
					t.Fatalf("error %v is not EINVALID", err)
				}
				continue
			}
			if len(r.Messages) == 0 || r.MaxTokens < 0 {
				t.Fatalf("accepted %+v", r)
			}
			for _, tool := range r.Tools {
				if len(tool.Parameters) > 0 && !json.Valid(tool.Parameters) {
					t.Fatalf("tool %s has invalid parameters %s", tool.Name, tool.Parameters)
				}
			}
			_ = llm.EstimateRequestTokens(r)
		}
	})
}

// TestDecodeGeminiCLI: the requests Gemini CLI really sends (recorded from its npm release) decode,
// with its system prompt, its tools and their JSON Schemas.
func TestDecodeGeminiCLI(t *testing.T) {
	t.Parallel()
	router, err := DecodeRequest(testkit.Payload("agents/gemini-cli/generate_content_router.json"))
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	if f := router.ResponseFormat; f == nil || f.Type != llm.FormatJSONSchema || !strings.Contains(string(f.Schema), `"type":"object"`) ||
		strings.Contains(string(f.Schema), `"OBJECT"`) || router.Reasoning == nil || router.Reasoning.Effort != llm.EffortHigh {
		t.Errorf("router: format %+v reasoning %+v", router.ResponseFormat, router.Reasoning)
	}
	for _, name := range []string{"stream_generate_content", "stream_generate_content_model_openai"} {
		body := testkit.Payload("agents/gemini-cli/" + name + ".json")
		r, err := DecodeRequest(body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(r.System, "Gemini CLI") || len(r.Messages) == 0 || len(r.Tools) < 5 {
			t.Errorf("%s: system %d bytes, %d messages, %d tools", name, len(r.System), len(r.Messages), len(r.Tools))
		}
		for _, tool := range r.Tools {
			if !wire.IsObject(tool.Parameters) && len(tool.Parameters) > 0 {
				t.Errorf("%s: tool %s parameters %s", name, tool.Name, tool.Parameters)
			}
		}
	}
}
