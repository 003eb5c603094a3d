package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// EnvUpstream names the operator's upstream proxy setting.
const EnvUpstream = "POLYDEV_EGRESS_PROXY"

// Upstream is the operator's proxy that egress chains every connection through, e.g. a
// residential proxy service: CONNECT for tunnels, absolute-form requests for plain HTTP, with
// Basic credentials from the URL. Its String and every error it returns leave the credentials out.
type Upstream struct {
	u        *url.URL // scheme and host:port only
	auth     string   // Proxy-Authorization value, or ""
	secrets  []string // user name and password, scrubbed from error text
	withUser *url.URL // u with the credentials, for net/http's plain-HTTP proxying
	tls      *tls.Config
}

// ParseUpstream parses POLYDEV_EGRESS_PROXY: http://[user:pass@]host:port or https://...
// (TLS to the proxy). Percent-escape special characters in the credentials. An empty value is
// no upstream (nil, nil).
func ParseUpstream(raw string) (*Upstream, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's error quotes the whole value, credentials included.
		return nil, fmt.Errorf("%s: not a URL (http://user:pass@host:port)", EnvUpstream)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s: scheme must be http or https", EnvUpstream)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return nil, fmt.Errorf("%s: needs a host and a port", EnvUpstream)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s: only scheme, credentials, host and port are allowed", EnvUpstream)
	}
	up := &Upstream{u: &url.URL{Scheme: u.Scheme, Host: u.Host}, withUser: &url.URL{Scheme: u.Scheme, Host: u.Host, User: u.User}}
	if u.User != nil {
		pass, _ := u.User.Password()
		cred := u.User.Username() + ":" + pass
		up.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
		for _, s := range []string{u.User.Username(), pass, url.QueryEscape(pass), url.PathEscape(pass), u.User.String()} {
			if len(s) >= 3 {
				up.secrets = append(up.secrets, s)
			}
		}
	}
	if u.Scheme == "https" {
		up.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	}
	return up, nil
}

// String names the upstream for logs: scheme, host and port, never the credentials.
func (up *Upstream) String() string {
	if up == nil {
		return "none"
	}
	return up.u.String()
}

// WithTLSConfig returns a copy that speaks TLS to an https upstream with c (tests: a test CA).
func (up *Upstream) WithTLSConfig(c *tls.Config) *Upstream {
	cp := *up
	cp.tls = c
	return &cp
}

// scrub removes the credentials from s, for log lines made of errors that may quote them.
func (up *Upstream) scrub(s string) string {
	if up == nil {
		return s
	}
	for _, sec := range up.secrets {
		s = strings.ReplaceAll(s, sec, "[redacted]")
	}
	return s
}

// upstreamError is the upstream proxy's refusal of a CONNECT; its text names the status only.
type upstreamError struct{ status int }

func (e *upstreamError) Error() string {
	if e.status == http.StatusProxyAuthRequired {
		return "the upstream proxy refused Polydev's credentials (407)"
	}
	return fmt.Sprintf("the upstream proxy refused the connection (%d)", e.status)
}

// connect opens a tunnel to target (host:port) through the upstream.
func (up *Upstream) connect(ctx context.Context, target string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", up.u.Host)
	if err != nil {
		return nil, fmt.Errorf("upstream proxy %s: %w", up.u.Host, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if up.tls != nil {
		tc := tls.Client(c, up.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("upstream proxy %s: TLS: %w", up.u.Host, err)
		}
		c = tc
	}
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if up.auth != "" {
		req += "Proxy-Authorization: " + up.auth + "\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("upstream proxy %s: %w", up.u.Host, err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("upstream proxy %s: reading its answer: %w", up.u.Host, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_ = c.Close()
		return nil, &upstreamError{status: resp.StatusCode}
	}
	_ = c.SetDeadline(noDeadline)
	if br.Buffered() > 0 { // the destination spoke first and the proxy sent it along at once
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// bufferedConn reads what a bufio.Reader already holds before the connection itself.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (c *bufferedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("egress: cannot half-close")
}
