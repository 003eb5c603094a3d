package netguard

import (
	"net/netip"
	"testing"
)

func TestParseIPv4Forms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   string // "" with isIPv4 means invalid
		isIPv4 bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1.", "127.0.0.1", true},
		{"2130706433", "127.0.0.1", true},
		{"0x7f000001", "127.0.0.1", true},
		{"0x7F000001", "127.0.0.1", true},
		{"0x7f.0.0.1", "127.0.0.1", true},
		{"0x7f.1", "127.0.0.1", true},
		{"0177.0.0.1", "127.0.0.1", true},
		{"017700000001", "127.0.0.1", true},
		{"127.1", "127.0.0.1", true},
		{"127.0.1", "127.0.0.1", true},
		{"10.1", "10.0.0.1", true},
		{"192.168.257", "192.168.1.1", true},
		{"0", "0.0.0.0", true},
		{"0x", "0.0.0.0", true},
		{"010.0.0.1", "8.0.0.1", true},
		{"4294967295", "255.255.255.255", true},
		{"4294967296", "", true},
		{"256.0.0.1", "", true},
		{"1.2.3.4.5", "", true},
		{"09.0.0.1", "", true},
		{"1..1", "", true},
		{"127.0.0.1..", "", false}, // a name with an empty label, refused by parseHost
		{"0x100000000", "", true},
		{"99999999999999999999999", "", true},
		{"example.com", "", false},
		{"1.2.3.example", "", false},
		{"0xg", "", false},
		{"127.0.0.1.nip.io", "", false},
	}
	for _, tt := range tests {
		a, isIPv4, err := parseIPv4Forms(tt.in)
		if isIPv4 != tt.isIPv4 {
			t.Errorf("parseIPv4Forms(%q) isIPv4 = %v, want %v", tt.in, isIPv4, tt.isIPv4)
			continue
		}
		if !isIPv4 {
			continue
		}
		if tt.want == "" {
			if err == nil {
				t.Errorf("parseIPv4Forms(%q) = %v, want error", tt.in, a)
			}
			continue
		}
		if err != nil || a != netip.MustParseAddr(tt.want) {
			t.Errorf("parseIPv4Forms(%q) = %v, %v; want %s", tt.in, a, err, tt.want)
		}
	}
}

func TestEmbeddedIPv4(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"::127.0.0.1", "127.0.0.1"},
		{"64:ff9b::a9fe:a9fe", "169.254.169.254"},
		{"2002:c0a8:101::1", "192.168.1.1"},
		{"2606:4700::1111", ""},
		{"10.0.0.1", ""},
	}
	for _, tt := range tests {
		got, ok := embeddedIPv4(netip.MustParseAddr(tt.in))
		if tt.want == "" {
			if ok {
				t.Errorf("embeddedIPv4(%s) = %v, want none", tt.in, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(tt.want) {
			t.Errorf("embeddedIPv4(%s) = %v, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
}
