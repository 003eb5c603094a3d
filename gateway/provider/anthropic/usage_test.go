package anthropic

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/polydev/polydev/gateway/internal/jsonscan"
)

// scanUsage must read what encoding/json reads into *wireUsage (keys in Anthropic's exact case).
func TestScanUsageAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`null`,
		`{}`,
		`{"input_tokens":12,"output_tokens":3}`,
		`{"input_tokens":12,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":0}`,
		`{"output_tokens":7,"input_tokens":null}`,
		`{"input_tokens":1,"input_tokens":2}`,
		`{"server_tool_use":{"web_search_requests":3,"web_fetch_requests":1},"input_tokens":5}`,
		`{"server_tool_use":null,"output_tokens":1}`,
		`{"server_tool_use":{"web_search_requests":null}}`,
		`{"server_tool_use":{"web_search_requests":1},"server_tool_use":{}}`,
		`{"service_tier":"standard","cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},"output_tokens":9}`,
		`{"input_tokens":-4}`,
		` { "input_tokens" : 4 , "output_tokens" : 5 } `,
		`{"input_tokens":9223372036854775807}`,
	} {
		var want *wireUsage
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%s: encoding/json: %v", in, err)
		}
		var sc jsonscan.Scanner
		sc.Reset([]byte(in))
		got, err := scanUsage(&sc)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Errorf("%s: got %s, encoding/json %s", in, gj, wj)
		}
	}
	for _, in := range []string{
		`[]`, `"usage"`, `12`,
		`{"input_tokens":1.5}`, `{"input_tokens":"12"}`, `{"input_tokens":1e3}`, `{"output_tokens":true}`,
		`{"input_tokens":92233720368547758070}`,
		`{"server_tool_use":[]}`, `{"server_tool_use":{"web_search_requests":"2"}}`,
		`{"input_tokens":1`, `{"input_tokens":1,}`, `{"x":tru}`,
	} {
		var want *wireUsage
		if json.Unmarshal([]byte(in), &want) == nil {
			t.Fatalf("%s: encoding/json accepts it; the case is wrong", in)
		}
		var sc jsonscan.Scanner
		sc.Reset([]byte(in))
		if u, err := scanUsage(&sc); err == nil && sc.End() == nil {
			t.Errorf("%s: accepted as %+v, encoding/json refuses it", in, u)
		}
	}
}
