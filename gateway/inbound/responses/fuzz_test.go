package responses

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/gateway/llm"
)

// FuzzDecodeRequest: any body decodes to a request or an EINVALID error, never a panic; a decoded
// request has a model and messages, every tool result answers an earlier call, and rendering an
// answer for it yields a valid response.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(codexLike))
	f.Add([]byte(`{"model":"m","input":"hi"}`))
	f.Add([]byte(`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":""},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"x"}]}]}`))
	f.Add([]byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,AA"}]}],"tools":[{"type":"custom","name":"p"}],"tool_choice":{"type":"custom","name":"p"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, opts, err := DecodeRequest(body)
		if err != nil {
			if polydev.ErrorCode(err) != polydev.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if req.Model == "" || len(req.Messages) == 0 {
			t.Fatalf("decoded %+v", req)
		}
		calls := map[string]bool{}
		for _, m := range req.Messages {
			for _, p := range m.Content {
				switch p.Kind {
				case llm.PartToolCall:
					calls[p.ToolCall.ID] = true
				case llm.PartToolResult:
					if !calls[p.ToolResult.CallID] {
						t.Fatalf("result for unknown call %q", p.ToolResult.CallID)
					}
				}
			}
		}
		rec := httptest.NewRecorder()
		resp := &llm.Response{Content: []llm.Part{llm.TextPart("ok")}}
		for _, tl := range req.Tools {
			resp.Content = append(resp.Content, llm.Part{Kind: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "c", Name: tl.Name, Arguments: []byte(`{"input":"x"}`)}})
		}
		if err := WriteResponse(rec, resp, &opts); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("invalid response JSON: %s", rec.Body)
		}
	})
}
