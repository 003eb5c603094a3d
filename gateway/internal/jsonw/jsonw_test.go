package jsonw

import (
	"encoding/json"
	"testing"
)

func TestString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"b\`, "nl\n\r\t", "\x00\x1f\x7f", "é漢字🙂", "bad\xffutf8", "\u2028\u2029", "<>&"} {
		got := String(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s: %v", s, got, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: round trip %q, want %q", s, back, wantBack)
		}
	}
}

func TestObject(t *testing.T) {
	t.Parallel()
	cases := map[string]string{`{"a":1}`: `{"a":1}`, ` {}`: ` {}`, `[1]`: `{}`, `{"a":`: `{}`, ``: `{}`, `"s"`: `{}`}
	for in, want := range cases {
		if got := string(Object(nil, []byte(in))); got != want {
			t.Errorf("Object(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzString(f *testing.F) {
	f.Add("hello \"world\"\n")
	f.Add("\xff\xfe\u2028")
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		if err := json.Unmarshal(String(nil, s), &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	})
}

func BenchmarkString(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = String(buf[:0], "Hello! How can I help you today? \"quoted\" and a newline\n")
	}
}
