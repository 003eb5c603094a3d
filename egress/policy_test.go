package egress

import (
	"testing"
)

func TestAllows(t *testing.T) {
	t.Parallel()
	pol, err := Policy{Session: "s", Allow: []Rule{
		{Host: "Claude.AI."}, {Host: "*.anthropic.com"}, {Host: "login.test", Ports: []uint16{8443, 80}}, {Host: "[::1]", Ports: []uint16{9}},
	}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host string
		port uint16
		want bool
	}{
		{"claude.ai", 443, true},
		{"claude.ai", 80, false},
		{"www.claude.ai", 443, false},
		{"api.anthropic.com", 443, true},
		{"a.b.anthropic.com", 443, true},
		{"anthropic.com", 443, false},
		{"evilanthropic.com", 443, false},
		{"login.test", 8443, true},
		{"login.test", 80, true},
		{"login.test", 443, false},
		{"::1", 9, true},
	} {
		if got := pol.allows(c.host, c.port); got != c.want {
			t.Errorf("allows(%s, %d) = %v", c.host, c.port, got)
		}
	}
}

func TestSplitTarget(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, def, host string
		port          uint16
		ok            bool
	}{
		{"Login.Test.:443", "", "login.test", 443, true},
		{"[::ffff:127.0.0.1]:8080", "", "127.0.0.1", 8080, true},
		{"example.com", "80", "example.com", 80, true},
		{"example.com", "", "", 0, false},
		{"example.com:0", "", "", 0, false},
		{"example.com:99999", "", "", 0, false},
		{"127.1:443", "", "", 0, false},
		{"0x7f.1:443", "", "", 0, false},
		{"exa mple.com:443", "", "", 0, false},
		{"ex%61mple.com:443", "", "", 0, false},
		{"[fe80::1%eth0]:443", "", "", 0, false},
		{"bücher.de:443", "", "", 0, false},
		{"-a.com:443", "", "", 0, false},
	} {
		h, p, err := splitTarget(c.in, c.def)
		if (err == nil) != c.ok || h != c.host || p != c.port {
			t.Errorf("splitTarget(%q) = %q %d %v", c.in, h, p, err)
		}
	}
}

func TestProviderRules(t *testing.T) {
	t.Parallel()
	must := map[string][]string{
		"claude_code": {"claude.ai", "api.anthropic.com", "console.anthropic.com", "platform.claude.com"},
		"codex_cli":   {"auth.openai.com", "api.openai.com", "chatgpt.com"},
		"gemini_cli":  {"accounts.google.com", "oauth2.googleapis.com", "cloudcode-pa.googleapis.com"},
	}
	for _, prov := range Providers {
		rules, err := ProviderRules(prov)
		if err != nil {
			t.Fatal(err)
		}
		pol, err := Policy{Session: "s", Allow: rules}.withDefaults()
		if err != nil {
			t.Fatalf("%s: %v", prov, err)
		}
		for _, h := range must[prov] {
			if !pol.allows(h, 443) {
				t.Errorf("%s does not allow %s", prov, h)
			}
		}
		for _, h := range []string{"example.com", "metadata.google.internal", "localhost"} {
			if pol.allows(h, 443) {
				t.Errorf("%s allows %s", prov, h)
			}
		}
	}
	if _, err := ProviderRules("cursor"); err == nil {
		t.Error("unknown provider accepted")
	}
}

func TestTargetRules(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Rule{
		"https://github.com/login/oauth/authorize?client_id=x": {Host: "github.com", Ports: []uint16{443}},
		"http://Example.COM/cb":                                {Host: "example.com", Ports: []uint16{80}},
		"https://127.0.0.1:8443/authorize":                     {Host: "127.0.0.1", Ports: []uint16{8443}},
	} {
		got, err := TargetRules(in)
		if err != nil || len(got) != 1 || got[0].Host != want.Host || len(got[0].Ports) != 1 || got[0].Ports[0] != want.Ports[0] {
			t.Errorf("TargetRules(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "github.com", "ftp://github.com/", "https://user:pw@github.com/", "https:///x", "https://127.1/"} {
		if _, err := TargetRules(bad); err == nil {
			t.Errorf("TargetRules(%q) accepted", bad)
		}
	}
	if _, err := (Policy{Session: "s", Allow: []Rule{{Host: "*.com.", Ports: []uint16{0}}}}).withDefaults(); err == nil {
		t.Error("port 0 accepted")
	}
	if _, err := (Policy{Session: "s", Allow: []Rule{{Host: "*.1.2.3.4"}}}).withDefaults(); err == nil {
		t.Error("wildcard IP accepted")
	}
	if _, err := (Policy{Allow: nil}).withDefaults(); err == nil {
		t.Error("policy without session accepted")
	}
}
