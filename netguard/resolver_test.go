package netguard

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
)

// fakeResolver answers from a table so tests never touch real DNS.
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	answer, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ipAddrs(answer), nil
}

// rebindingResolver gives answers[i] on the i-th lookup and the last answer
// forever after, like a DNS server with a zero TTL changing its mind.
type rebindingResolver struct {
	answers [][]string
	calls   atomic.Int32
}

func (r *rebindingResolver) LookupIPAddr(_ context.Context, _ string) ([]net.IPAddr, error) {
	i := int(r.calls.Add(1)) - 1
	return ipAddrs(r.answers[min(i, len(r.answers)-1)]), nil
}

// failResolver proves a code path never resolves.
type failResolver struct{ t testing.TB }

func (f failResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	f.t.Errorf("unexpected DNS lookup of %q", host)
	return nil, &net.DNSError{Err: "unexpected lookup", Name: host}
}

func ipAddrs(ss []string) []net.IPAddr {
	out := make([]net.IPAddr, 0, len(ss))
	for _, s := range ss {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out
}

func mustPolicy(t testing.TB, allow string, r Resolver) *Policy {
	t.Helper()
	p, err := ParseAllowList(allow)
	if err != nil {
		t.Fatalf("ParseAllowList(%q): %v", allow, err)
	}
	return p.WithResolver(r)
}
