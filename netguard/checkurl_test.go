package netguard

import (
	"errors"
	"strings"
	"testing"
)

// Every spelling of a non-public destination: refused with no allow list
// and with an unrelated one, accepted with the matching entry and with
// "all". wantHost is the normalised u.Host.
var nonPublicTargets = []struct {
	raw, allow, wantHost string
}{
	// IPv4 loopback, every spelling clients accept.
	{"http://127.0.0.1/", "127.0.0.0/8", "127.0.0.1"},
	{"http://127.0.0.1:8080/v1", "127.0.0.0/8", "127.0.0.1:8080"},
	{"http://127.0.0.1:08080/v1", "127.0.0.0/8", "127.0.0.1:8080"},
	{"http://127.0.0.1.:8080/", "127.0.0.0/8", "127.0.0.1:8080"},
	{"http://2130706433/", "127.0.0.0/8", "127.0.0.1"},
	{"http://0x7f000001/", "127.0.0.0/8", "127.0.0.1"},
	{"http://0X7F000001/", "127.0.0.0/8", "127.0.0.1"},
	{"http://0x7f.0.0.1/", "127.0.0.0/8", "127.0.0.1"},
	{"http://0x7f.1/", "127.0.0.0/8", "127.0.0.1"},
	{"http://0177.0.0.1/", "127.0.0.0/8", "127.0.0.1"},
	{"http://0177.1/", "127.0.0.0/8", "127.0.0.1"},
	{"http://017700000001/", "127.0.0.0/8", "127.0.0.1"},
	{"http://127.1/", "127.0.0.0/8", "127.0.0.1"},
	{"http://127.0.1/", "127.0.0.0/8", "127.0.0.1"},
	{"http://127.255.255.254/", "127.0.0.1/8", "127.255.255.254"},
	// "This network" and unspecified: Linux connects 0.0.0.0 to loopback.
	{"http://0/", "0.0.0.0/8", "0.0.0.0"},
	{"http://0.0.0.0:11434/", "0.0.0.0", "0.0.0.0:11434"},
	{"http://0.1.2.3/", "0.0.0.0/8", "0.1.2.3"},
	// RFC 1918.
	{"http://10.0.0.1/", "10.0.0.0/8", "10.0.0.1"},
	{"http://167772161/", "10.0.0.0/8", "10.0.0.1"},
	{"http://172.16.5.4/", "172.16.0.0/12", "172.16.5.4"},
	{"http://172.31.255.255/", "172.16.0.0/12", "172.31.255.255"},
	{"http://192.168.1.1/", "192.168.0.0/16", "192.168.1.1"},
	{"http://0xc0a80101/", "192.168.0.0/16", "192.168.1.1"},
	{"http://192.168.257/", "192.168.0.0/16", "192.168.1.1"},
	// Link-local and cloud metadata.
	{"http://169.254.169.254/latest/meta-data/", "169.254.169.254", "169.254.169.254"},
	{"http://0xa9fea9fe/", "169.254.169.254", "169.254.169.254"},
	{"http://0251.0376.0251.0376/", "169.254.169.254", "169.254.169.254"},
	{"http://169.254.1.1/", "169.254.0.0/16", "169.254.1.1"},
	{"http://100.100.100.200/", "100.64.0.0/10", "100.100.100.200"},
	{"http://metadata.google.internal/computeMetadata/v1/", "169.254.169.254", "metadata.google.internal"},
	{"http://METADATA.google.internal./", "169.254.169.254", "metadata.google.internal"},
	{"http://metadata.goog/", "169.254.169.254", "metadata.goog"},
	{"http://instance-data.ec2.internal/", "169.254.169.254", "instance-data.ec2.internal"},
	// Other special-purpose IPv4.
	{"http://100.64.0.1/", "100.64.0.0/10", "100.64.0.1"},
	{"http://198.18.0.1/", "198.18.0.0/15", "198.18.0.1"},
	{"http://198.19.255.255/", "198.18.0.0/15", "198.19.255.255"},
	{"http://192.0.0.8/", "192.0.0.0/24", "192.0.0.8"},
	{"http://192.0.2.1/", "192.0.2.0/24", "192.0.2.1"},
	{"http://198.51.100.1/", "198.51.100.0/24", "198.51.100.1"},
	{"http://203.0.113.1/", "203.0.113.0/24", "203.0.113.1"},
	{"http://192.88.99.1/", "192.88.99.0/24", "192.88.99.1"},
	{"http://224.0.0.1/", "224.0.0.0/4", "224.0.0.1"},
	{"http://239.255.255.250/", "224.0.0.0/4", "239.255.255.250"},
	{"http://240.0.0.1/", "240.0.0.0/4", "240.0.0.1"},
	{"http://255.255.255.255/", "255.255.255.255", "255.255.255.255"},
	{"http://4294967295/", "255.255.255.255", "255.255.255.255"},
	// Loopback names, never trusted to DNS.
	{"http://localhost:11434/v1", "127.0.0.0/8", "localhost:11434"},
	{"http://LOCALHOST./", "127.0.0.0/8", "localhost"},
	{"http://foo.localhost/", "127.0.0.1", "foo.localhost"},
	{"http://ip6-localhost/", "::1", "ip6-localhost"},
	// IPv6 literals.
	{"http://[::1]/", "::1", "[::1]"},
	{"http://[::1]:8000/", "::1", "[::1]:8000"},
	{"http://[0:0:0:0:0:0:0:1]/", "::1", "[::1]"},
	{"http://[::1%25lo]/", "::1", "[::1%lo]"},
	{"http://[::]/", "::", "[::]"},
	{"http://[fe80::1%25eth0]:8080/", "fe80::/10", "[fe80::1%eth0]:8080"},
	{"http://[FE80::1]/", "fe80::/10", "[fe80::1]"},
	{"http://[fc00::1]/", "fc00::/7", "[fc00::1]"},
	{"http://[fd12:3456::1]/", "fd00::/8", "[fd12:3456::1]"},
	{"http://[fd00:ec2::254]/", "fd00:ec2::254", "[fd00:ec2::254]"},
	{"http://[fec0::1]/", "fec0::/10", "[fec0::1]"},
	{"http://[ff02::1]/", "ff00::/8", "[ff02::1]"},
	{"http://[2001:db8::1]/", "2001:db8::/32", "[2001:db8::1]"},
	{"http://[3fff::1]/", "3fff::/20", "[3fff::1]"},
	{"http://[100::1]/", "100::/64", "[100::1]"},
	{"http://[2001::1]/", "2001::/32", "[2001::1]"},
	{"http://[64:ff9b:1::1]/", "64:ff9b:1::/48", "[64:ff9b:1::1]"},
	{"http://[4000::1]/", "4000::/3", "[4000::1]"},
	// IPv4 inside IPv6: judged by the embedded address, so allow-listing
	// the IPv4 range is enough.
	{"http://[::ffff:127.0.0.1]/", "127.0.0.0/8", "[::ffff:127.0.0.1]"},
	{"http://[::ffff:7f00:1]/", "127.0.0.0/8", "[::ffff:127.0.0.1]"},
	{"http://[0:0:0:0:0:ffff:127.0.0.1]/", "127.0.0.0/8", "[::ffff:127.0.0.1]"},
	{"http://[::ffff:169.254.169.254]/", "169.254.169.254", "[::ffff:169.254.169.254]"},
	{"http://[::ffff:10.0.0.1]/", "::ffff:10.0.0.0/104", "[::ffff:10.0.0.1]"},
	{"http://[::127.0.0.1]/", "127.0.0.0/8", "[::7f00:1]"},
	{"http://[64:ff9b::7f00:1]/", "127.0.0.0/8", "[64:ff9b::7f00:1]"},
	{"http://[64:ff9b::10.0.0.1]/", "10.0.0.0/8", "[64:ff9b::a00:1]"},
	{"http://[2002:7f00:1::1]/", "127.0.0.0/8", "[2002:7f00:1::1]"},
	{"http://[2002:a9fe:a9fe::]/", "169.254.169.254", "[2002:a9fe:a9fe::]"},
	// Embedding forms can also be allow-listed as themselves.
	{"http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::/96", "[64:ff9b::a9fe:a9fe]"},
	// A name whose every address is allow-listed.
	{"http://llm.lan:8000/v1", "10.1.2.0/24,fd00::/8", "llm.lan:8000"},
}

// testResolver knows the only names these tests use; anything else is
// NXDOMAIN, so no test ever depends on real DNS.
var testResolver = fakeResolver{
	"llm.lan":         {"10.1.2.3", "fd00::3"},
	"api.example.com": {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
	"db.corp.example": {"10.1.2.3"},
	"mixed.example":   {"93.184.215.14", "10.1.2.3"},
	"v6lo.example":    {"::1"},
	"mapped.example":  {"::ffff:127.0.0.1"},
	"nat64.example":   {"64:ff9b::a9fe:a9fe"},
	"empty.example":   {},
}

func TestCheckURLRefusesNonPublicUnlessAllowed(t *testing.T) {
	t.Parallel()
	none := mustPolicy(t, "", testResolver)
	unrelated := mustPolicy(t, "10.200.200.200/32,fd99::1", testResolver)
	all := mustPolicy(t, "all", testResolver)
	for _, tt := range nonPublicTargets {
		for name, p := range map[string]*Policy{"empty": none, "unrelated": unrelated} {
			u, err := p.CheckURL(tt.raw)
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Errorf("%s allow list: CheckURL(%q) = %v, %v; want *BlockedError", name, tt.raw, u, err)
				continue
			}
			if !be.AllowListable || !be.Addr.IsValid() {
				t.Errorf("%s allow list: CheckURL(%q) error %q should point at the allow list", name, tt.raw, err)
			}
		}
		for name, p := range map[string]*Policy{tt.allow: mustPolicy(t, tt.allow, testResolver), "all": all} {
			u, err := p.CheckURL(tt.raw)
			if err != nil {
				t.Errorf("allow %q: CheckURL(%q): %v", name, tt.raw, err)
				continue
			}
			if u.Host != tt.wantHost {
				t.Errorf("allow %q: CheckURL(%q) host = %q, want %q", name, tt.raw, u.Host, tt.wantHost)
			}
		}
	}
}

func TestCheckURLAcceptsPublicHTTPS(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "", testResolver)
	tests := []struct{ raw, want string }{
		{"https://93.184.215.14/v1", "https://93.184.215.14/v1"},
		{"https://0x5db8d70e/v1", "https://93.184.215.14/v1"},
		{"https://1572394766/", "https://93.184.215.14/"},
		{"https://010.0.0.1/", "https://8.0.0.1/"}, // octal: 8.0.0.1, not 10.0.0.1
		{"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/", "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/"},
		{"https://[::ffff:93.184.215.14]/", "https://[::ffff:93.184.215.14]/"},
		{"https://[64:ff9b::5db8:d70e]/", "https://[64:ff9b::5db8:d70e]/"},
		{"https://[2002:5db8:d70e::1]/", "https://[2002:5db8:d70e::1]/"},
		{"https://api.example.com/v1", "https://api.example.com/v1"},
		{"HTTPS://API.Example.COM./v1", "https://api.example.com/v1"},
		{"https://api.example.com:443/v1", "https://api.example.com:443/v1"},
		{"https://api.example.com:/v1", "https://api.example.com/v1"},
		{"https://api.example.com/openai?api-version=2024-10-21", "https://api.example.com/openai?api-version=2024-10-21"},
	}
	for _, tt := range tests {
		u, err := p.CheckURL(tt.raw)
		if err != nil {
			t.Errorf("CheckURL(%q): %v", tt.raw, err)
			continue
		}
		if u.String() != tt.want {
			t.Errorf("CheckURL(%q) = %q, want %q", tt.raw, u, tt.want)
		}
	}
}

func TestCheckURLRefusesBadShapes(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "all", testResolver)
	tests := []struct {
		raw    string
		want   string   // in the error
		secret []string // never in the error
	}{
		{"ftp://93.184.215.14/", "scheme", nil},
		{"file:///etc/passwd", "scheme", nil},
		{"gopher://127.0.0.1:6379/_", "scheme", nil},
		{"//93.184.215.14/", "scheme", nil},
		{"93.184.215.14", "scheme", nil},
		{"https://user:hunter2@api.example.com/", "credentials", []string{"hunter2", "user"}},
		{"https://sk-live-abc123@api.example.com/", "credentials", []string{"sk-live-abc123"}},
		{"https://@api.example.com/", "credentials", nil},
		{"https://user:hunter2@api.example.com/%zz", "malformed", []string{"hunter2", "user"}},
		{"https://user:hunter2@api.example.com:port/", "malformed", []string{"hunter2", "user"}},
		{"https://api.example.com/#frag", "fragment", nil},
		{"https://api.example.com/#", "fragment", nil},
		{"https:///v1", "host", nil},
		{"https://", "host", nil},
		{"https:api.example.com", "host", nil},
		{"https://api.example.com:0/", "port", nil},
		{"https://api.example.com:65536/", "port", nil},
		{"https://api.example.com:99999999999999999999/", "port", nil},
		{"https://1.2.3.4.5/", "IPv4", nil},
		{"https://256.0.0.1/", "IPv4", nil},
		{"https://0x100000000/", "IPv4", nil},
		{"https://09.0.0.1/", "IPv4", nil},
		{"https://éxample.com/", "ASCII", nil},
		{"https://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1/", "ASCII", nil},
		{"https://a..b/", "label", nil},
		{"https://exa$mple.com/", "character", nil},
		{"https://[::1/", "malformed", nil},
		{"https://[1.2.3.4]/", "", nil},
		{"https://" + strings.Repeat("a", 64) + ".com/", "label", nil},
	}
	for _, tt := range tests {
		u, err := p.CheckURL(tt.raw)
		var be *BlockedError
		if !errors.As(err, &be) {
			t.Errorf("CheckURL(%q) = %v, %v; want *BlockedError", tt.raw, u, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CheckURL(%q) error %q does not mention %q", tt.raw, err, tt.want)
		}
		for _, s := range tt.secret {
			if strings.Contains(err.Error(), s) {
				t.Errorf("CheckURL(%q) error %q leaks %q", tt.raw, err, s)
			}
		}
	}
}

func TestCheckURLErrorsNeverEchoQueryOrPath(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "", testResolver)
	for _, raw := range []string{
		"https://10.0.0.1/v1/secretpath?key=sekrit",
		"http://93.184.215.14/v1/secretpath?key=sekrit",
		"https://db.corp.example/secretpath?key=sekrit",
		"https://unknown.example/secretpath?key=sekrit",
	} {
		_, err := p.CheckURL(raw)
		if err == nil {
			t.Errorf("CheckURL(%q) accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), "sekrit") || strings.Contains(err.Error(), "secretpath") {
			t.Errorf("CheckURL(%q) error %q leaks path or query", raw, err)
		}
	}
}

func TestCheckURLPlainHTTPOnlyForAllowListedPrivate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		allow, raw string
		ok         bool
	}{
		{"", "http://93.184.215.14/", false},
		{"all", "http://93.184.215.14/", false},
		{"all", "http://api.example.com/", false},
		{"10.0.0.0/8", "http://db.corp.example/", true},
		{"10.0.0.0/8", "https://db.corp.example/", true},
		{"all", "http://db.corp.example/", true},
		{"0.0.0.0/0", "http://93.184.215.14/", false},
	}
	for _, tt := range tests {
		_, err := mustPolicy(t, tt.allow, testResolver).CheckURL(tt.raw)
		if (err == nil) != tt.ok {
			t.Errorf("allow %q: CheckURL(%q) = %v, want ok=%v", tt.allow, tt.raw, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "https") {
			t.Errorf("allow %q: CheckURL(%q) error %q should suggest https", tt.allow, tt.raw, err)
		}
	}
}

func TestCheckURLResolvesNames(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "", testResolver)
	tests := []struct {
		raw, addr string // addr: the refused address; "" for a lookup failure
	}{
		{"https://db.corp.example/v1", "10.1.2.3"},
		{"https://mixed.example/v1", "10.1.2.3"},
		{"https://v6lo.example/v1", "::1"},
		{"https://mapped.example/v1", "127.0.0.1"},
		{"https://nat64.example/v1", "64:ff9b::a9fe:a9fe"},
		{"https://unknown.example/v1", ""},
		{"https://empty.example/v1", ""},
	}
	for _, tt := range tests {
		_, err := p.CheckURL(tt.raw)
		var be *BlockedError
		switch {
		case err == nil:
			t.Errorf("CheckURL(%q) accepted", tt.raw)
		case tt.addr == "" && errors.As(err, &be):
			t.Errorf("CheckURL(%q) = %v, want a lookup error", tt.raw, err)
		case tt.addr != "" && (!errors.As(err, &be) || be.Addr.String() != tt.addr):
			t.Errorf("CheckURL(%q) = %v, want refusal of %s", tt.raw, err, tt.addr)
		}
	}
}

func TestCheckURLAllowAllHTTPSSkipsDNS(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "all", failResolver{t})
	if _, err := p.CheckURL("https://anything.example/v1"); err != nil {
		t.Errorf("CheckURL: %v", err)
	}
}

func TestCheckURLReservedNamesSkipDNS(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, "", failResolver{t})
	for _, raw := range []string{"https://localhost/", "https://a.b.localhost/", "https://metadata.google.internal/"} {
		if _, err := p.CheckURL(raw); err == nil {
			t.Errorf("CheckURL(%q) accepted", raw)
		}
	}
}
