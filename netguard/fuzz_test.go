package netguard

import (
	"context"
	"hash/fnv"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// hashResolver answers every name, deterministically, with one of a few
// public and forbidden answers, so the fuzzer explores names without DNS.
type hashResolver struct{}

var hashAnswers = [][]string{
	{"93.184.215.14"},
	{"10.1.2.3"},
	{"93.184.215.14", "127.0.0.1"},
	{"2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
	{"::1"},
	{"64:ff9b::a9fe:a9fe"},
}

func (hashResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	return ipAddrs(hashAnswer(host)), nil
}

func hashAnswer(host string) []string {
	h := fnv.New32a()
	h.Write([]byte(host))
	return hashAnswers[h.Sum32()%uint32(len(hashAnswers))]
}

// oracleForbidden is an independent opinion on whether a must be refused
// without an allow list, built on the standard library's predicates rather
// than on this package's table.
func oracleForbidden(a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, s := range []string{"0.0.0.0/8", "100.64.0.0/10", "198.18.0.0/15", "192.0.2.0/24",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "2001:db8::/32", "fec0::/10"} {
		if netip.MustParsePrefix(s).Contains(a) {
			return true
		}
	}
	if a.Is6() {
		b := a.As16()
		var v4 netip.Addr
		switch {
		case netip.MustParsePrefix("::/96").Contains(a), netip.MustParsePrefix("64:ff9b::/96").Contains(a):
			v4 = netip.AddrFrom4([4]byte(b[12:]))
		case netip.MustParsePrefix("2002::/16").Contains(a):
			v4 = netip.AddrFrom4([4]byte(b[2:6]))
		}
		if v4.IsValid() && oracleForbidden(v4) {
			return true
		}
	}
	return false
}

func FuzzCheckURL(f *testing.F) {
	for _, tt := range nonPublicTargets {
		f.Add(tt.raw)
	}
	for _, s := range []string{
		"https://api.openai.com/v1", "https://93.184.215.14/", "https://[2606:4700::1111]:8443/v1?x=1",
		"https://user:pw@host/", "http://0x7f.1/", "https://0251.0376.0251.0376/", "https://1.2.3.4.5/",
		"https://%31%32%37.0.0.1/", "https://a.b.localhost./", "https://[::ffff:0:7f00:1]/",
		"https://127.0.0.1%00.example/", "https://xn--nxasmq6b.example/", "https://[fe80::1%25en0]/",
	} {
		f.Add(s)
	}
	none := mustPolicy(f, "", hashResolver{})
	tenNet := mustPolicy(f, "10.0.0.0/8", hashResolver{})
	ten := netip.MustParsePrefix("10.0.0.0/8")
	f.Fuzz(func(t *testing.T, raw string) {
		for _, p := range []*Policy{none, tenNet} {
			u, err := p.CheckURL(raw)
			if err != nil {
				if u != nil {
					t.Fatalf("CheckURL(%q) returned both a URL and %v", raw, err)
				}
				continue
			}
			if u.User != nil || u.Fragment != "" || (u.Scheme != "https" && u.Scheme != "http") {
				t.Fatalf("CheckURL(%q) accepted %v", raw, u)
			}
			// What the client will dial: the literal, or whatever the
			// resolver says about the name.
			host := u.Hostname()
			var addrs []netip.Addr
			if a, err := netip.ParseAddr(host); err == nil {
				addrs = []netip.Addr{a}
			} else {
				if net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost") {
					t.Fatalf("CheckURL(%q) accepted host %q", raw, host)
				}
				if _, _, err := parseIPv4Forms(host); err != nil {
					t.Fatalf("CheckURL(%q) accepted malformed IPv4 host %q", raw, host)
				}
				for _, s := range hashAnswer(host) {
					addrs = append(addrs, netip.MustParseAddr(s))
				}
			}
			for _, a := range addrs {
				permitted := p == tenNet && (ten.Contains(a.Unmap()) || embeds10(a))
				if oracleForbidden(a) && !permitted {
					t.Fatalf("CheckURL(%q) accepted forbidden destination %v (host %q)", raw, a, host)
				}
				if u.Scheme == "http" && !oracleForbidden(a) {
					t.Fatalf("CheckURL(%q) accepted plain http to public %v", raw, a)
				}
			}
		}
	})
}

func embeds10(a netip.Addr) bool {
	e, ok := embeddedIPv4(a.Unmap())
	return ok && netip.MustParsePrefix("10.0.0.0/8").Contains(e)
}
