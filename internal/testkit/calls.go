package testkit

import (
	"fmt"
	"net/http"
)

// preparedCall is a tool call with its arguments validated and split.
type preparedCall struct {
	id    string
	name  string
	args  raw      // compact JSON object
	frags []string // args in streamed fragments
}

// prepareCalls validates the script's tool calls; idFormat numbers the
// calls that have no ID, in the provider's id style.
func prepareCalls(calls []ToolCall, idFormat string) ([]preparedCall, error) {
	out := make([]preparedCall, len(calls))
	for i, c := range calls {
		if c.Name == "" {
			return nil, fmt.Errorf("tool call %d has no name", i)
		}
		args, err := compactArgs(c.Arguments)
		if err != nil {
			return nil, fmt.Errorf("tool call %d (%s): %w", i, c.Name, err)
		}
		id := c.ID
		if id == "" {
			id = fmt.Sprintf(idFormat, i+1)
		}
		out[i] = preparedCall{id: id, name: c.Name, args: args, frags: c.fragments(string(args))}
	}
	return out, nil
}

// countDeltas is the number of content deltas a stream carries: one per
// text piece plus one per argument fragment (or per call when whole).
func countDeltas(texts []string, calls []preparedCall, wholeCalls bool) int {
	n := len(texts)
	for _, c := range calls {
		if wholeCalls {
			n++
		} else {
			n += len(c.frags)
		}
	}
	return n
}

// withHeader adds extra to base, returning a new header.
func withHeader(base http.Header, extra http.Header) http.Header {
	h := base.Clone()
	for k, v := range extra {
		h[http.CanonicalHeaderKey(k)] = v
	}
	return h
}

// statusText is the fallback error message for a status without a
// canonical one (http.StatusText knows nothing of 529 and friends).
func statusText(status int) string {
	if s := http.StatusText(status); s != "" {
		return s
	}
	return fmt.Sprintf("Error %d", status)
}
