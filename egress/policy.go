package egress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults for a Policy's zero limits. A login moves a few megabytes (the sign-in pages, the
// CLI's token exchange and first API calls); the byte cap only stops a guest from using the
// session as a general download channel. The time cap outlives the 30-minute session expiry a
// little, so the expiry job, not the proxy, ends a normal session.
const (
	DefaultMaxBytes    = 256 << 20
	DefaultMaxDuration = 35 * time.Minute
)

// Rule allows one host, or every subdomain of one, on some ports.
type Rule struct {
	// Host is a lower-case DNS name ("claude.ai"), "*." and a name ("*.anthropic.com": any
	// subdomain, not the name itself), or an IP address literal.
	Host string
	// Ports are the allowed ports; empty means 443 only.
	Ports []uint16
}

// Policy is one session's egress: what it may reach and for how long.
type Policy struct {
	Session     string        // the login session's id: log lines and Usage name it (not a secret)
	Allow       []Rule        // what the guest may reach; empty refuses everything
	MaxBytes    int64         // bytes both ways across all connections; 0: DefaultMaxBytes
	MaxDuration time.Duration // from Open; 0: DefaultMaxDuration
}

func (p Policy) withDefaults() (Policy, error) {
	if p.Session == "" {
		return p, errors.New("egress: policy without a session id")
	}
	if p.MaxBytes < 0 || p.MaxDuration < 0 {
		return p, errors.New("egress: negative limit")
	}
	if p.MaxBytes == 0 {
		p.MaxBytes = DefaultMaxBytes
	}
	if p.MaxDuration == 0 {
		p.MaxDuration = DefaultMaxDuration
	}
	p.Allow = slices.Clone(p.Allow)
	for i, r := range p.Allow {
		h, err := normalizeRuleHost(r.Host)
		if err != nil {
			return p, err
		}
		p.Allow[i].Host = h
		if slices.Contains(r.Ports, 0) {
			return p, fmt.Errorf("egress: rule %q has port 0", r.Host)
		}
	}
	return p, nil
}

// allows reports whether host:port is on the allow-list. host is already normalised
// (splitTarget).
func (p Policy) allows(host string, port uint16) bool {
	for _, r := range p.Allow {
		if !r.matches(host) {
			continue
		}
		if len(r.Ports) == 0 {
			if port == 443 {
				return true
			}
			continue
		}
		if slices.Contains(r.Ports, port) {
			return true
		}
	}
	return false
}

func (r Rule) matches(host string) bool {
	if suffix, ok := strings.CutPrefix(r.Host, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return host == r.Host
}

// normalizeRuleHost checks a rule's host and returns its canonical form.
func normalizeRuleHost(h string) (string, error) {
	name, wild := strings.CutPrefix(h, "*.")
	n, err := normalizeHost(name)
	if err != nil {
		return "", fmt.Errorf("egress: rule host %q: %w", h, err)
	}
	if wild {
		if _, isIP := netip.ParseAddr(n); isIP == nil || !strings.Contains(n, ".") {
			return "", fmt.Errorf("egress: rule host %q: a wildcard needs a domain with a dot", h)
		}
		return "*." + n, nil
	}
	return n, nil
}

// normalizeHost returns the canonical form of a request's or rule's host: IP literals in
// netip's form (brackets removed), names lower-cased without a trailing dot. It refuses
// anything that is neither a plain ASCII DNS name nor an IP literal (no IPv6 zones, no
// percent-encoding, no IDNA mapping: the xn-- form is what reaches the wire).
func normalizeHost(h string) (string, error) {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", errors.New("IPv6 zones are not allowed")
		}
		return a.Unmap().String(), nil
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return "", errors.New("not a host name")
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", errors.New("not a host name")
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", errors.New("not a host name")
			}
		}
	}
	// A name that ends in a number is how inet_aton-style IPv4 forms (127.1, 0x7f.1) look;
	// clients and resolvers disagree on them, so they are refused rather than guessed at.
	if last := h[strings.LastIndexByte(h, '.')+1:]; last[0] >= '0' && last[0] <= '9' {
		return "", errors.New("numeric host names other than dotted IPv4 are refused")
	}
	return h, nil
}

// splitTarget parses a request's host:port (a CONNECT authority or an absolute URL's host with
// its scheme's default port).
func splitTarget(hostport, defaultPort string) (string, uint16, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		if defaultPort == "" {
			return "", 0, errors.New("target must be host:port")
		}
		host, port = hostport, defaultPort
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", 0, errors.New("bad port")
	}
	h, err := normalizeHost(host)
	if err != nil {
		return "", 0, err
	}
	return h, uint16(n), nil
}

// TargetRules allows exactly the host and port of a generic OAuth target URL (https, or http to
// port 80 by default), the seed's "targetUrl" sessions.
func TargetRules(targetURL string) ([]Rule, error) {
	u, err := url.Parse(targetURL)
	if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("egress: targetUrl must be an absolute http(s) URL without credentials")
	}
	def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	host, port, err := splitTarget(u.Host, def)
	if err != nil {
		return nil, fmt.Errorf("egress: targetUrl host: %w", err)
	}
	return []Rule{{Host: host, Ports: []uint16{port}}}, nil
}
