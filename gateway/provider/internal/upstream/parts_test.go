package upstream

import (
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// TestNewRequestParts: the parts reach the wire in order with the right length, by Read and by
// WriteTo, and GetBody replays them after the first body was consumed.
func TestNewRequestParts(t *testing.T) {
	parts := [][]byte{[]byte(`{"model":`), []byte(`"claude-haiku-4-5"`), nil, []byte(`,"max_tokens":5}`)}
	want := bytes.Join(parts, nil)
	req, err := NewRequestParts(t.Context(), "POST", "http://127.0.0.1/v1/messages", parts, len(want), false)
	if err != nil {
		t.Fatal(err)
	}
	if req.ContentLength != int64(len(want)) {
		t.Fatalf("ContentLength %d, want %d", req.ContentLength, len(want))
	}
	if err := iotest.TestReader(req.Body, want); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		b, err := req.GetBody()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, b); err != nil || !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("replayed body %q, %v", buf.Bytes(), err)
		}
	}
	if string(parts[1]) != `"claude-haiku-4-5"` {
		t.Fatal("reading the body consumed the caller's parts")
	}
}
