package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// saveTimeLookup bounds DNS at save time: an admin form must not hang on a
// slow resolver.
const saveTimeLookup = 5 * time.Second

// CheckURL validates an upstream base URL before it is saved; see
// [Policy.CheckURLContext].
func (p *Policy) CheckURL(raw string) (*url.URL, error) {
	ctx, cancel := context.WithTimeout(context.Background(), saveTimeLookup)
	defer cancel()
	return p.CheckURLContext(ctx, raw)
}

// CheckURLContext validates an upstream base URL before it is saved and
// returns it normalised: the host is lower-cased, IP literals are in
// canonical form (http://0x7f.1 becomes http://127.0.0.1) and a given port
// is in plain decimal. Store and use the returned URL, not raw.
//
// The URL must be absolute https (or http, see the package doc), without
// credentials or fragment, with a host and a port in 1-65535. Names are
// resolved and refused if any address is forbidden; resolution failures are
// returned as errors because an unresolvable name cannot be judged.
// Refusals are *[BlockedError]s; the error text never echoes userinfo,
// path or query.
func (p *Policy) CheckURLContext(ctx context.Context, raw string) (*url.URL, error) {
	u, err := parseShape(raw)
	if err != nil {
		return nil, err
	}
	t, err := parseHost(u.Hostname(), strings.HasPrefix(u.Host, "["))
	if err != nil {
		return nil, &BlockedError{Dest: safeHost(u), Reason: err.Error()}
	}
	if err := normaliseHost(u, t); err != nil {
		return nil, err
	}
	addrs, err := p.saveTimeAddrs(ctx, u, t)
	if err != nil {
		return nil, err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, a := range addrs {
		if err := p.check(t.canonical(), a); err != nil {
			return nil, err
		}
		if err := p.checkSelf(t.canonical(), a, port); err != nil {
			return nil, err
		}
		if u.Scheme == "http" && isPublic(a) {
			return nil, &BlockedError{Dest: t.canonical(), Addr: a,
				Reason: "a public address, and plain http is only accepted for allow-listed private destinations; use https"}
		}
	}
	return u, nil
}

// parseShape checks everything about the URL that does not depend on where
// its host points.
func parseShape(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse errors quote the whole input, credentials included.
		return nil, &BlockedError{Reason: "malformed URL: " + parseProblem(err)}
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, &BlockedError{Dest: safeHost(u), Reason: "URL scheme must be https (or http for allow-listed private servers)"}
	case u.User != nil:
		return nil, &BlockedError{Dest: safeHost(u), Reason: "credentials in URLs are not accepted; provider keys go in headers"}
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, &BlockedError{Reason: "URL must have a host (https://host/...)"}
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, &BlockedError{Dest: safeHost(u), Reason: "URL must not have a #fragment"}
	}
	return u, nil
}

// parseProblem names what url.Parse disliked without quoting the input.
func parseProblem(err error) string {
	var esc url.EscapeError
	var host url.InvalidHostError
	switch {
	case errors.As(err, &esc):
		return "invalid %-escape"
	case errors.As(err, &host):
		return "invalid character in host"
	}
	return "cannot be parsed"
}

// safeHost is the host for error messages; Hostname never includes
// userinfo, but a host refused for its characters is better left out.
func safeHost(u *url.URL) string {
	if _, err := parseHost(u.Hostname(), strings.HasPrefix(u.Host, "[")); err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// normaliseHost rewrites u.Host to the canonical spelling of t and checks
// the port.
func normaliseHost(u *url.URL, t target) error {
	host := t.canonical()
	if u.Port() == "" { // also "host:", which means the default port
		if t.addr.Is6() {
			host = "[" + host + "]"
		}
		u.Host = host
		return nil
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port < 1 || port > 65535 {
		return &BlockedError{Dest: host, Reason: "URL port must be between 1 and 65535"}
	}
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	return nil
}

// saveTimeAddrs returns the addresses to judge for t. Reserved names are
// judged as the address they stand for, never looked up. With allow-all, an
// https name needs no lookup: every address would pass.
func (p *Policy) saveTimeAddrs(ctx context.Context, u *url.URL, t target) ([]netip.Addr, error) {
	if t.addr.IsValid() {
		return []netip.Addr{t.addr}, nil
	}
	if a, ok := reservedName(t.name); ok {
		return []netip.Addr{a}, nil
	}
	if p != nil && p.all && u.Scheme == "https" {
		return nil, nil
	}
	return p.resolve(ctx, t.name)
}

// resolve looks name up and returns its addresses; an empty answer is an
// error so callers never mistake "nothing to check" for "all clear".
func (p *Policy) resolve(ctx context.Context, name string) ([]netip.Addr, error) {
	ips, err := p.lookup().LookupIPAddr(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("netguard: resolving %s: %w", name, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("netguard: resolving %s: no addresses", name)
	}
	addrs := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		a, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			return nil, fmt.Errorf("netguard: resolving %s: invalid address in answer", name)
		}
		addrs = append(addrs, a.Unmap().WithZone(ip.Zone))
	}
	return addrs, nil
}
