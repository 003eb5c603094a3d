package testkit

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSSE(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      string
		want    []Event
		wantErr bool
	}{
		{"lf", "data: a\n\ndata: b\n\n", []Event{{Data: "a"}, {Data: "b"}}, false},
		{"crlf", "data: a\r\n\r\nevent: x\r\ndata: b\r\n\r\n", []Event{{Data: "a"}, {Event: "x", Data: "b"}}, false},
		{"cr", "data: a\r\rdata: b\r\r", []Event{{Data: "a"}, {Data: "b"}}, false},
		{"no space", "event:e\ndata:{}\n\n", []Event{{Event: "e", Data: "{}"}}, false},
		{"only one space stripped", "data:  x\n\n", []Event{{Data: " x"}}, false},
		{"multi-line data", "data: a\ndata: b\n\n", []Event{{Data: "a\nb"}}, false},
		{"comments", ": keep-alive\n\n: c\ndata: a\n\n", []Event{{Data: "a"}}, false},
		{"event without data", "event: ping\n\ndata: a\n\n", []Event{{Data: "a"}}, false},
		{"id", "id: 7\ndata: a\n\n", []Event{{ID: "7", Data: "a"}}, false},
		{"bom", "\xEF\xBB\xBFdata: a\n\n", []Event{{Data: "a"}}, false},
		{"unterminated event", "data: a\n\ndata: b\n", []Event{{Data: "a"}}, true},
		{"unterminated line", "data: a\n\ndata: b", []Event{{Data: "a"}}, true},
		{"empty", "", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSSE([]byte(tc.in))
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, ErrUnterminatedEvent)) {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// encodeSSE writes events back in canonical form.
func encodeSSE(events []Event) []byte {
	var b bytes.Buffer
	for _, ev := range events {
		if ev.Event != "" {
			b.WriteString("event: " + ev.Event + "\n")
		}
		if ev.ID != "" {
			b.WriteString("id: " + ev.ID + "\n")
		}
		for line := range strings.SplitSeq(ev.Data, "\n") {
			b.WriteString("data: " + line + "\n")
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// FuzzParseSSE checks the parser never panics and that what it accepts
// survives a round trip through the canonical encoding.
func FuzzParseSSE(f *testing.F) {
	for _, p := range []Provider{OpenAI, Anthropic, Gemini} {
		for _, name := range PayloadNames(p) {
			f.Add(Payload(name))
		}
	}
	f.Add([]byte("data: a\r\rdata:b\r\n\r\n: c\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		events, err := ParseSSE(in)
		if err != nil {
			return
		}
		again, err := ParseSSE(encodeSSE(events))
		if err != nil || !reflect.DeepEqual(again, events) {
			t.Errorf("round trip: %+v -> %+v (%v)", events, again, err)
		}
	})
}
