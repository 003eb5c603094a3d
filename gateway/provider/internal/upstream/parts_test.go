package upstream

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"testing/iotest"
)

// TestNewRequestParts: the parts reach the wire in order with the right length, by Read and by
// WriteTo, and GetBody replays them after the first body was consumed.
func TestNewRequestParts(t *testing.T) {
	parts := [][]byte{[]byte(`{"model":`), []byte(`"claude-haiku-4-5"`), nil, []byte(`,"max_tokens":5}`)}
	want := bytes.Join(parts, nil)
	req, err := NewRequestParts(t.Context(), "POST", "http://127.0.0.1/v1/messages", parts, len(want), false, nil)
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

// countRef counts holds and releases of a body buffer.
type countRef struct{ holds, releases int }

func (c *countRef) Hold()    { c.holds++ }
func (c *countRef) Release() { c.releases++ }

// TestNewRequestPartsRef: every body made (the first and each replay) holds the buffer once and
// releases it once, on its first Close; after Close a body reads nothing of the buffer (it may be
// another request's by then), by Read or by WriteTo.
func TestNewRequestPartsRef(t *testing.T) {
	parts := [][]byte{[]byte(`{"model":"m",`), []byte(`"max_tokens":5}`)}
	ref := &countRef{}
	req, err := NewRequestParts(t.Context(), "POST", "http://127.0.0.1/v1/messages", parts, 28, false, ref)
	if err != nil {
		t.Fatal(err)
	}
	if ref.holds != 1 || ref.releases != 0 {
		t.Fatalf("after NewRequestParts: %+v", ref)
	}
	replay, _ := req.GetBody()
	if ref.holds != 2 {
		t.Fatalf("after GetBody: %+v", ref)
	}
	var one [4]byte
	if n, err := req.Body.Read(one[:]); n != 4 || err != nil {
		t.Fatalf("read %d, %v", n, err)
	}
	for range 2 {
		if err := req.Body.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if ref.releases != 1 {
		t.Fatalf("after closing the first body twice: %+v", ref)
	}
	if n, err := req.Body.Read(one[:]); n != 0 || err == nil {
		t.Fatalf("read after Close: %d, %v", n, err)
	}
	if err := replay.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := replay.(io.WriterTo).WriteTo(io.Discard); n != 0 || err == nil {
		t.Fatalf("WriteTo after Close: %d, %v", n, err)
	}
	if ref.holds != 2 || ref.releases != 2 {
		t.Fatalf("at the end: %+v", ref)
	}
	empty, err := NewRequestParts(t.Context(), "POST", "http://127.0.0.1/", nil, 0, false, ref)
	if err != nil || empty.Body != http.NoBody || ref.holds != 2 {
		t.Fatalf("empty body: %v %v %+v", empty.Body, err, ref)
	}
}

// TestPartsWriteBuffersTo: what is left of a parts body (after a first Read took some of it, as
// the transport's buffer does) goes out whole and in order as buffers; Remaining counts it down,
// the parts the caller passed are not changed, and a closed body writes nothing.
func TestPartsWriteBuffersTo(t *testing.T) {
	parts := [][]byte{[]byte(`{"model":`), []byte(`"claude-haiku-4-5"`), nil, bytes.Repeat([]byte(`,"x":1`), 1000), []byte(`}`)}
	want := bytes.Join(parts, nil)
	req, err := NewRequestParts(t.Context(), "POST", "http://127.0.0.1/v1/messages", parts, len(want), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := req.Body.(*partsReader)
	head := make([]byte, 12) // across the first two parts
	if n, err := body.Read(head); n != len(head) || err != nil {
		t.Fatalf("Read: %d, %v", n, err)
	}
	if got := body.Remaining(); got != int64(len(want)-len(head)) {
		t.Fatalf("Remaining = %d, want %d", got, len(want)-len(head))
	}
	var out bytes.Buffer
	n, err := body.WriteBuffersTo(&out)
	if err != nil || n != int64(len(want)-len(head)) {
		t.Fatalf("WriteBuffersTo: %d, %v", n, err)
	}
	if got := append(head, out.Bytes()...); !bytes.Equal(got, want) {
		t.Fatalf("the body went out as %q..., want %q...", got[:40], want[:40])
	}
	if body.Remaining() != 0 {
		t.Fatalf("Remaining after the write = %d", body.Remaining())
	}
	if !bytes.Equal(bytes.Join(parts, nil), want) {
		t.Fatal("the caller's parts changed")
	}
	again, _ := req.GetBody()
	again.Close()
	if n, err := again.(*partsReader).WriteBuffersTo(&out); n != 0 || err != errBodyClosed {
		t.Fatalf("WriteBuffersTo on a closed body: %d, %v", n, err)
	}
}
