package agents

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"testing"

	"github.com/polydev/polydev/internal/testkit"
)

// decodeObject decodes a JSON object keeping numbers as written.
func decodeObject(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("%s is not a JSON object: %v", what, err)
	}
	return m
}

// wantPassedThrough fails unless the upstream received the client's body unchanged but for the
// model (which Polydev owns; for Gemini it is in the path, not the body): every field, every
// cache_control mark.
func wantPassedThrough(t *testing.T, client seen, upstream testkit.Request) {
	t.Helper()
	in := decodeObject(t, "client body", client.Body)
	out := decodeObject(t, "upstream body", upstream.Body)
	delete(in, "model")
	delete(out, "model")
	if !reflect.DeepEqual(in, out) {
		var diff []string
		for k := range in {
			if !reflect.DeepEqual(in[k], out[k]) {
				diff = append(diff, k)
			}
		}
		for k := range out {
			if _, ok := in[k]; !ok {
				diff = append(diff, k+" (added)")
			}
		}
		sort.Strings(diff)
		t.Errorf("upstream body differs from the client's (model aside) in %q", diff)
	}
	cin, cout := bytes.Count(client.Body, []byte(`"cache_control"`)), bytes.Count(upstream.Body, []byte(`"cache_control"`))
	if cin != cout {
		t.Errorf("cache_control marks: client sent %d, upstream got %d", cin, cout)
	}
}

// wantHeadersForwarded fails unless each named header reached the upstream as the client sent it.
func wantHeadersForwarded(t *testing.T, client seen, upstream testkit.Request, names ...string) {
	t.Helper()
	for _, h := range names {
		if got, want := upstream.Header.Values(h), client.Header.Values(h); !reflect.DeepEqual(got, want) || len(want) == 0 {
			t.Errorf("header %s: client sent %q, upstream got %q", h, want, got)
		}
	}
}

// wantNoToken fails if the user's pd_ token reached an upstream in any header or body.
func wantNoToken(t *testing.T, token string, ups ...*testkit.Upstream) {
	t.Helper()
	for _, up := range ups {
		for _, r := range up.Requests() {
			if bytes.Contains(r.Body, []byte(token)) {
				t.Errorf("%s upstream got the pd_ token in a body", up.Provider)
			}
			for k, vs := range r.Header {
				for _, v := range vs {
					if bytes.Contains([]byte(v), []byte(token)) {
						t.Errorf("%s upstream got the pd_ token in header %s", up.Provider, k)
					}
				}
			}
		}
	}
}

// onPath keeps the requests to path.
func onPath(reqs []seen, path string) []seen {
	var out []seen
	for _, r := range reqs {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// upstreamSince returns the fake's requests after the first n.
func upstreamSince(up *testkit.Upstream, n int) []testkit.Request {
	all := up.Requests()
	if n > len(all) {
		return nil
	}
	return all[n:]
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
