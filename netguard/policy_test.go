package netguard

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAllowList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // Policy.String()
	}{
		{"", "no private upstreams allowed"},
		{"  ", "no private upstreams allowed"},
		{"0", "no private upstreams allowed"},
		{"false", "no private upstreams allowed"},
		{"1", "all upstreams allowed"},
		{"TRUE", "all upstreams allowed"},
		{" all ", "all upstreams allowed"},
		{"127.0.0.0/8", "private upstreams allowed: 127.0.0.0/8"},
		{"127.0.0.0/8, 10.1.2.0/24 ,::1", "private upstreams allowed: 127.0.0.0/8,10.1.2.0/24,::1/128"},
		{"10.1.2.3", "private upstreams allowed: 10.1.2.3/32"},
		{"10.1.2.3/24", "private upstreams allowed: 10.1.2.0/24"},
		{"::ffff:127.0.0.0/104", "private upstreams allowed: 127.0.0.0/8"},
		{"fd00::/8", "private upstreams allowed: fd00::/8"},
	}
	for _, tt := range tests {
		p, err := ParseAllowList(tt.in)
		if err != nil {
			t.Errorf("ParseAllowList(%q): %v", tt.in, err)
			continue
		}
		if got := p.String(); got != tt.want {
			t.Errorf("ParseAllowList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseAllowListErrorsNameTheEntry(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, entry string }{
		{"127.0.0.0/8,localhost", "localhost"},
		{"10.0.0.0/33", "10.0.0.0/33"},
		{"10.0.0.0/8,,::1", ""},
		{"127.0.0.0/8,all", "all"},
		{"0x7f.1", "0x7f.1"},
		{"fe80::1%eth0", "fe80::1%eth0"},
		{"999.1.1.1", "999.1.1.1"},
	}
	for _, tt := range tests {
		_, err := ParseAllowList(tt.in)
		if err == nil {
			t.Errorf("ParseAllowList(%q) succeeded, want error", tt.in)
			continue
		}
		if want := `entry "` + tt.entry + `"`; !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAllowList(%q) error %q does not name %s", tt.in, err, want)
		}
		if !strings.Contains(err.Error(), EnvAllowList) {
			t.Errorf("ParseAllowList(%q) error %q does not name the setting", tt.in, err)
		}
	}
}

func TestNilPolicyAllowsNothingPrivate(t *testing.T) {
	t.Parallel()
	var p *Policy
	if r := p.refusal(netip.MustParseAddr("127.0.0.1")); r == "" {
		t.Error("nil policy permits 127.0.0.1")
	}
	if r := p.refusal(netip.MustParseAddr("93.184.215.14")); r != "" {
		t.Errorf("nil policy refuses a public address: %s", r)
	}
	if p.String() != "no private upstreams allowed" {
		t.Errorf("nil policy String = %q", p.String())
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "", nil)
	err := p.check("10.0.0.1", netip.MustParseAddr("10.0.0.1"))
	want := "netguard: destination 10.0.0.1 is a private address; set POLYDEV_ALLOW_PRIVATE_UPSTREAMS to allow it"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	err = p.check("db.corp.example", netip.MustParseAddr("10.0.0.1"))
	want = "netguard: destination db.corp.example (10.0.0.1) is a private address; set POLYDEV_ALLOW_PRIVATE_UPSTREAMS to allow it"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}
