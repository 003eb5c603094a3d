package web

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/polydev/polydev"
)

// FuzzDecodeJSON drives the JSON body path and the error renderer with arbitrary bytes: a body is either
// accepted or refused with a 400/413 in the one error shape; never a panic, never a 500.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"name":"x","expiresInDays":3}`, `{"name":5}`, `[`, `{"a":1}`, `null`, `{"name":"x"} {}`,
		`{"expiresInDays":1e400}`, "{\"name\":\"\xff\"}", `{"name":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	s := &Server{cfg: Config{MaxBodyBytes: 1024}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/api/account/tokens", bytes.NewReader(body))
		var in createTokenRequest
		err := s.decodeJSON(w, r, &in)
		if err == nil {
			return
		}
		if code := polydev.ErrorCode(err); code != polydev.EINVALID && code != polydev.ETOOLARGE {
			t.Fatalf("decode error code %q for %q: %v", code, body, err)
		}
		s.renderError(w, r, err)
		if w.Code != http.StatusBadRequest && w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", w.Code)
		}
		var eb ErrorBody
		if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error.Message == "" || eb.Error.Type != "invalid_request_error" {
			t.Fatalf("bad error body %q", w.Body.String())
		}
	})
}
