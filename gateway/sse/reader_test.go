package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/polydev/polydev/internal/testkit"
)

type ev struct {
	typ, data, id string
	retry         time.Duration
}

func readAll(t testing.TB, r io.Reader, max int) ([]ev, error) {
	t.Helper()
	sr := NewReader(r, max)
	var out []ev
	for {
		e, err := sr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev{e.Type, string(e.Data), e.ID, e.Retry})
	}
}

func TestReader(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want []ev
		err  error
	}{
		{"empty", "", nil, io.EOF},
		{"one", "data: hello\n\n", []ev{{data: "hello"}}, io.EOF},
		{"no space", "data:hello\n\n", []ev{{data: "hello"}}, io.EOF},
		{"two spaces keep one", "data:  hello\n\n", []ev{{data: " hello"}}, io.EOF},
		{"multi-line data", "data: a\ndata: b\ndata:\n\n", []ev{{data: "a\nb\n"}}, io.EOF},
		{"event and id", "event: ping\nid: 7\ndata: {}\n\n", []ev{{typ: "ping", data: "{}", id: "7"}}, io.EOF},
		{"id persists", "id: 1\ndata: a\n\ndata: b\n\n", []ev{{data: "a", id: "1"}, {data: "b", id: "1"}}, io.EOF},
		{"id with NUL ignored", "id: a\x00b\ndata: x\n\n", []ev{{data: "x"}}, io.EOF},
		{"type resets", "event: a\ndata: 1\n\ndata: 2\n\n", []ev{{typ: "a", data: "1"}, {data: "2"}}, io.EOF},
		{"retry", "retry: 1500\ndata: x\n\n", []ev{{data: "x", retry: 1500 * time.Millisecond}}, io.EOF},
		{"bad retry ignored", "retry: 1.5\ndata: x\n\n", []ev{{data: "x"}}, io.EOF},
		{"comments", ": ping\n:\ndata: x\n: more\n\n", []ev{{data: "x"}}, io.EOF},
		{"no data, no event", "event: a\n\ndata: x\n\n", []ev{{data: "x"}}, io.EOF},
		{"field without colon", "data\n\n", []ev{{data: ""}}, io.EOF},
		{"unknown field", "foo: bar\ndata: x\n\n", []ev{{data: "x"}}, io.EOF},
		{"CRLF", "event: e\r\ndata: x\r\n\r\n", []ev{{typ: "e", data: "x"}}, io.EOF},
		{"CR", "event: e\rdata: x\r\rdata: y\r\r", []ev{{typ: "e", data: "x"}, {data: "y"}}, io.EOF},
		{"mixed", "data: a\r\ndata: b\rdata: c\n\r\n", []ev{{data: "a\nb\nc"}}, io.EOF},
		{"BOM", "\xEF\xBB\xBFdata: x\n\n", []ev{{data: "x"}}, io.EOF},
		{"BOM only at start", "data: x\n\n\xEF\xBB\xBFdata: y\n\n", []ev{{data: "x"}}, io.EOF},
		{"unterminated event", "data: x\n\ndata: y\n", []ev{{data: "x"}}, io.ErrUnexpectedEOF},
		{"unterminated line", "data: x\n\ndata: y", []ev{{data: "x"}}, io.ErrUnexpectedEOF},
		{"trailing comment is pending", "data: x\n\n: bye\n", []ev{{data: "x"}}, io.ErrUnexpectedEOF},
		{"colon in value", "data: a:b: c\n\n", []ev{{data: "a:b: c"}}, io.EOF},
		{"utf8", "data: héllo 🙂\n\n", []ev{{data: "héllo 🙂"}}, io.EOF},
	}
	for _, c := range cases {
		for _, rd := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{{"whole", func(r io.Reader) io.Reader { return r }}, {"byte", iotest.OneByteReader}, {"half", iotest.HalfReader}} {
			got, err := readAll(t, rd.wrap(strings.NewReader(c.in)), 0)
			if err != c.err || !equal(got, c.want) {
				t.Errorf("%s/%s: got %+v, %v; want %+v, %v", c.name, rd.name, got, err, c.want, c.err)
			}
		}
	}
}

func equal(a, b []ev) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReaderLimits(t *testing.T) {
	t.Parallel()
	long := "data: " + strings.Repeat("x", 100) + "\n\n"
	if _, err := readAll(t, strings.NewReader(long), 64); err != ErrEventTooLarge {
		t.Errorf("long line: %v", err)
	}
	many := strings.Repeat("data: "+strings.Repeat("x", 20)+"\n", 10) + "\n"
	if _, err := readAll(t, strings.NewReader(many), 64); err != ErrEventTooLarge {
		t.Errorf("large event: %v", err)
	}
	// Within the limit, events of exactly the limit pass; the buffer grows from small.
	exact := "data: " + strings.Repeat("y", 5000) + "\n\n"
	got, err := readAll(t, strings.NewReader(exact), 5006)
	if err != io.EOF || len(got) != 1 || len(got[0].data) != 5000 {
		t.Errorf("exact: %v %d", err, len(got))
	}
	// A never-ending line without a newline stops at the limit rather than eating memory.
	endless := io.MultiReader(strings.NewReader("data: "), infinite('z'))
	if _, err := readAll(t, endless, 1<<16); err != ErrEventTooLarge {
		t.Errorf("endless line: %v", err)
	}
}

type infinite byte

func (b infinite) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

func TestReaderErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)), 0)
	if e, err := r.Next(); err != nil || string(e.Data) != "a" {
		t.Fatalf("%v %q", err, e.Data)
	}
	if _, err := r.Next(); err != boom {
		t.Errorf("got %v, want the reader's error", err)
	}
	if _, err := r.Next(); err != boom {
		t.Errorf("error not sticky: %v", err)
	}
}

// TestRecordedPayloads reads every recorded provider stream the same way testkit's strict
// parser does.
func TestRecordedPayloads(t *testing.T) {
	t.Parallel()
	for _, p := range []testkit.Provider{testkit.OpenAI, testkit.Anthropic, testkit.Gemini} {
		for _, name := range testkit.PayloadNames(p) {
			if !strings.HasSuffix(name, ".sse") {
				continue
			}
			body := testkit.Payload(name)
			want, werr := testkit.ParseSSE(body)
			got, err := readAll(t, iotest.HalfReader(bytes.NewReader(body)), 0)
			if (werr == nil) != (err == io.EOF) || len(got) != len(want) {
				t.Fatalf("%s: %d events %v, want %d %v", name, len(got), err, len(want), werr)
			}
			for i := range want {
				if got[i].typ != want[i].Event || got[i].data != want[i].Data || got[i].id != want[i].ID {
					t.Errorf("%s event %d: %+v, want %+v", name, i, got[i], want[i])
				}
			}
		}
	}
}

// FuzzReader: any bytes, in any chunking, give the same events as testkit's independent parser,
// never panic, and never exceed the limit.
func FuzzReader(f *testing.F) {
	for _, p := range []testkit.Provider{testkit.OpenAI, testkit.Anthropic, testkit.Gemini} {
		for _, name := range testkit.PayloadNames(p) {
			f.Add(testkit.Payload(name), uint8(3))
		}
	}
	f.Add([]byte("\xEF\xBB\xBFdata: a\r\rdata:b\r\n\r\nevent: x\nid: 1\nretry: 10\ndata\n\n"), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, chunk uint8) {
		const max = 512
		var rd io.Reader = bytes.NewReader(body)
		if chunk%4 == 1 {
			rd = iotest.OneByteReader(rd)
		} else if chunk%4 == 2 {
			rd = iotest.HalfReader(rd)
		}
		got, err := readAll(t, rd, max)
		if err != io.EOF && err != io.ErrUnexpectedEOF && err != ErrEventTooLarge {
			t.Fatalf("unexpected error %v", err)
		}
		for _, e := range got {
			if len(e.data) > max {
				t.Fatalf("event of %d bytes passed a %d limit", len(e.data), max)
			}
		}
		if err == ErrEventTooLarge {
			return
		}
		want, werr := testkit.ParseSSE(body)
		if (werr == nil) != (err == io.EOF) {
			t.Fatalf("end: %v, reference %v", err, werr)
		}
		if len(got) != len(want) {
			t.Fatalf("%d events, reference %d", len(got), len(want))
		}
		for i := range want {
			if got[i].typ != want[i].Event || got[i].data != want[i].Data {
				t.Fatalf("event %d: %+v, reference %+v", i, got[i], want[i])
			}
		}
	})
}

func BenchmarkReader(b *testing.B) {
	body := bytes.Repeat(testkit.Payload("anthropic/messages_stream_text.sse"), 20)
	rd := bytes.NewReader(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(body)
		r := NewReader(rd, 0)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
