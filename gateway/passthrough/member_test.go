package passthrough

import "testing"

func TestMember(t *testing.T) {
	t.Parallel()
	cases := []struct {
		body, name, want string
		ok               bool
	}{
		{`{"model":"m","stream_options":{"include_usage":false},"x":1}`, "stream_options", `{"include_usage":false}`, true},
		{` { "a" : "s\"}" , "b" : [1,{"c":"]"}] } `, "b", `[1,{"c":"]"}]`, true},
		{`{"str\u0065am":true}`, "stream", `true`, true},
		{`{"a":{"stream_options":1}}`, "stream_options", ``, false},
		{`{}`, "a", ``, false},
		{`[1]`, "a", ``, false},
		{`{"a":1 "b":2}`, "b", ``, false},
	}
	for _, c := range cases {
		s, e, ok := Member([]byte(c.body), c.name)
		if ok != c.ok || ok && c.body[s:e] != c.want {
			t.Errorf("Member(%s, %s) = %d:%d %v, want %q %v", c.body, c.name, s, e, ok, c.want, c.ok)
		}
	}
}
