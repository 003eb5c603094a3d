package main

import (
	"fmt"
	"strings"
)

// Kind is one kind of request the benchmark measures.
type Kind int

const (
	Chat           Kind = iota // POST .../chat/completions, a short prompt
	ChatStream                 // the same, "stream": true
	Messages                   // POST /v1/messages, a 126 KB Claude-Code-shaped body (anthropic.go)
	MessagesStream             // the same, "stream": true
	numKinds
)

// Stream reports whether the kind is measured to its first SSE data line.
func (k Kind) Stream() bool { return k == ChatStream || k == MessagesStream }

// Anthropic reports whether the kind goes to the fake Anthropic API.
func (k Kind) Anthropic() bool { return k == Messages || k == MessagesStream }

// Label names the kind in reports.
func (k Kind) Label() string {
	switch k {
	case ChatStream:
		return "streaming TTFB"
	case Messages:
		return "anthropic 126 KB"
	case MessagesStream:
		return "anthropic 126 KB streaming TTFB"
	}
	return "non-streaming"
}

// kindNames are the names -modes accepts, by kind.
var kindNames = [numKinds]string{"nonstream", "stream", "anthropic", "anthropic-stream"}

func parseKinds(s string) ([]Kind, error) {
	var out []Kind
	for _, m := range splitList(s) {
		found := false
		for k, name := range kindNames {
			if m == name {
				out, found = append(out, Kind(k)), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown kind %q (known: %s)", m, strings.Join(kindNames[:], ", "))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty")
	}
	return out, nil
}
