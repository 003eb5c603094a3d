package providertest

import (
	"encoding/json"
	"testing"
)

// AssertFields fails unless the top-level members of body named in want (a JSON object) equal
// want's, and every member named in absent is missing: for checking what an encoder wrote of a
// few options without restating the whole request.
func AssertFields(t *testing.T, body []byte, want string, absent ...string) {
	t.Helper()
	var got, exp map[string]json.RawMessage
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not a JSON object: %v", err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("want is not a JSON object: %v", err)
	}
	for k, v := range exp {
		if g, ok := got[k]; !ok || !JSONEqual(string(g), string(v)) {
			t.Errorf("%s: got %s, want %s", k, g, v)
		}
	}
	for _, k := range absent {
		if g, ok := got[k]; ok {
			t.Errorf("%s: present (%s), want absent", k, g)
		}
	}
}
