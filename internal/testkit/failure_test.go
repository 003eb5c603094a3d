package testkit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestScriptedErrors(t *testing.T) {
	t.Parallel()
	for _, c := range constructors {
		for _, status := range []int{400, 401, 403, 404, 429, 500, 503, 529} {
			u := c.new(t, WithScript(ErrorScript(status)))
			for _, stream := range []bool{false, true} {
				got, _, body := generation(c.p, stream).do(t, u)
				if got != status || !isProviderError(c.p, body) {
					t.Errorf("%s %d stream=%v: got %d %s", c.p, status, stream, got, body)
				}
			}
		}
	}
	// Custom type, message, body and headers.
	u := NewAnthropic(t, WithQueue(
		Script{Error: &ErrorReply{Status: 429, Message: "slow down", Header: http.Header{"retry-after": {"7"}}}},
		Script{Error: &ErrorReply{Status: 502, Body: []byte("<html>bad gateway</html>")}},
	))
	status, hdr, body := generation(Anthropic, false).do(t, u)
	if status != 429 || hdr.Get("Retry-After") != "7" || !bytes.Contains(body, []byte(`"message":"slow down"`)) || !bytes.Contains(body, []byte("rate_limit_error")) {
		t.Errorf("custom error: %d %v %s", status, hdr, body)
	}
	if status, _, body := generation(Anthropic, false).do(t, u); status != 502 || string(body) != "<html>bad gateway</html>" {
		t.Errorf("raw body error: %d %s", status, body)
	}
}

func TestStreamError(t *testing.T) {
	t.Parallel()
	wantType := map[Provider]string{OpenAI: "server_error", Anthropic: "overloaded_error", Gemini: "UNAVAILABLE"}
	wantStatus := map[Provider]int{OpenAI: 500, Anthropic: 529, Gemini: 503}
	for _, c := range constructors {
		t.Run(string(c.p), func(t *testing.T) {
			t.Parallel()
			s := Script{Text: "a b c d e f", StreamError: &StreamError{AfterDeltas: 2}, Usage: DefaultUsage}
			u := c.new(t, WithScript(s))
			status, _, body := generation(c.p, true).do(t, u)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			d := decodeStream(t, c.p, body)
			if d.ErrType != wantType[c.p] || d.Deltas != 2 || d.Text != "a b " || d.Complete {
				t.Errorf("decoded %+v", d)
			}
			// A non-streaming request gets the equivalent HTTP error.
			status, _, body = generation(c.p, false).do(t, u)
			if status != wantStatus[c.p] || !isProviderError(c.p, body) {
				t.Errorf("non-streaming: %d %s", status, body)
			}
		})
	}
	// After all content: the error replaces the provider's closing events.
	u := NewAnthropic(t, WithScript(Script{Text: "x y", StreamError: &StreamError{AfterDeltas: 99, Type: "api_error", Message: "boom"}}))
	_, _, body := generation(Anthropic, true).do(t, u)
	d := decodeStream(t, Anthropic, body)
	if d.Text != "x y" || d.ErrType != "api_error" || d.Complete || !bytes.Contains(body, []byte(`"message":"boom"`)) {
		t.Errorf("late error: %+v\n%s", d, body)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	for _, c := range constructors {
		t.Run(string(c.p), func(t *testing.T) {
			t.Parallel()
			u := c.new(t, WithQueue(
				Script{Text: "a b c", Malformed: &Malformed{AfterDeltas: 1}},
				Script{Text: "a b c", Malformed: &Malformed{AfterDeltas: 2, Bytes: []byte("data: {oops\n\n"), Abort: true}},
				Script{Text: "a b c", Malformed: &Malformed{}},
			))
			// Clean end after broken bytes: valid SSE framing, invalid JSON last.
			_, _, body := generation(c.p, true).do(t, u)
			events, err := ParseSSE(body)
			if err != nil || len(events) == 0 {
				t.Fatalf("framing: %v\n%s", err, body)
			}
			for i, ev := range events {
				if valid := json.Valid([]byte(ev.Data)); valid == (i == len(events)-1) {
					t.Errorf("event %d valid=%v: %q", i, valid, ev.Data)
				}
			}
			// Abort: the client sees the connection break.
			resp, err := u.Client().Do(generation(c.p, true).request(t, t.Context(), u))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil || !bytes.HasSuffix(got, []byte("data: {oops\n\n")) {
				t.Errorf("abort: err=%v body=%q", err, got)
			}
			// Non-streaming: half a JSON body.
			status, _, body := generation(c.p, false).do(t, u)
			if status != 200 || json.Valid(body) || len(body) == 0 {
				t.Errorf("non-streaming malformed: %d %q", status, body)
			}
			// Non-streaming with Abort: the partial body arrives, then the cut.
			u.Enqueue(Script{Text: "a b c", Malformed: &Malformed{Abort: true}})
			resp, err = u.Client().Do(generation(c.p, false).request(t, t.Context(), u))
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil || len(got) == 0 || json.Valid(got) {
				t.Errorf("non-streaming abort: err=%v body=%q", err, got)
			}
		})
	}
}

func TestGeminiJSONArrayStream(t *testing.T) {
	t.Parallel()
	u := NewGemini(t, WithQueue(DefaultScript(), Script{Text: "a b c", StreamError: &StreamError{AfterDeltas: 1}}))
	path := "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
	for i, wantErr := range []bool{false, true} {
		_, hdr, body := call{path: path, body: geminiBody}.do(t, u)
		if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type = %q", ct)
		}
		var chunks []geminiResponseJSON
		if err := strictJSON(body, &chunks); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var d decoded
		for _, ch := range chunks {
			if err := d.geminiChunk(ch, true); err != nil {
				t.Fatal(err)
			}
		}
		if wantErr != (d.ErrType != "") || (!wantErr && (d.Text != DefaultText || d.Usage != reported(Gemini, DefaultUsage))) {
			t.Errorf("case %d: decoded %+v", i, d)
		}
	}
}
