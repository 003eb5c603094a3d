package authsession

import (
	"net/url"
	"strings"
	"testing"

	"github.com/polydev/polydev"
)

func TestRequestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   Request
		want string // canonical target, or "!" + a word of the refusal
	}{
		{Request{Provider: polydev.CLIClaudeCode}, ""},
		{Request{Provider: "Claude_Code"}, "!provider must be"},
		{Request{}, "!required"},
		{Request{Provider: polydev.CLICodex, TargetURL: "https://a.example/"}, "!not both"},
		{Request{TargetURL: "https://GitHub.com:443/login/oauth/authorize?x=1#frag"}, "https://github.com:443/login/oauth/authorize?x=1#frag"},
		{Request{TargetURL: "HTTPS://[2001:db8::1]/x"}, "https://[2001:db8::1]/x"},
		{Request{TargetURL: "http://github.com/"}, "!https"},
		{Request{TargetURL: "https://u:p@github.com/"}, "!user name"},
		{Request{TargetURL: "https://u@github.com/"}, "!user name"},
		{Request{TargetURL: "https:github.com"}, "!host"},
		{Request{TargetURL: "https://github.com/\nx"}, "!control"},
		{Request{TargetURL: "https://%zz/"}, "!not a URL"},
	} {
		got, err := tc.in.Validate()
		if want, refused := strings.CutPrefix(tc.want, "!"); refused {
			if polydev.ErrorCode(err) != polydev.EINVALID || !strings.Contains(polydev.ErrorMessage(err), want) {
				t.Errorf("%+v: %q, %v; want a refusal naming %q", tc.in, got, err, want)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%+v = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzValidateTargetURL: whatever a client sends, an accepted target is an https URL with a host
// and no user information, and accepting it again gives the same URL.
func FuzzValidateTargetURL(f *testing.F) {
	for _, s := range []string{"https://github.com/login?x=1", "https://u:p@h/", "javascript:alert(1)", "https://[::1]:8443/", "https://h/%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := ValidateTargetURL(raw)
		if err != nil {
			return
		}
		u, perr := url.Parse(got)
		if perr != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil {
			t.Fatalf("%q accepted as %q", raw, got)
		}
		again, err := ValidateTargetURL(got)
		if err != nil || again != got {
			t.Fatalf("%q → %q → %q, %v", raw, got, again, err)
		}
	})
}
