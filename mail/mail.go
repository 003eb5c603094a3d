// Package mail sends Polydev's few emails (address verification, password reset, a note to an
// account's owner) over SMTP. It owns the SMTP URL (POLYDEV_SMTP_URL), the message format and one
// synchronous Send; it knows nothing of users, tokens or HTTP, and it never puts the SMTP password
// in an error, a log line or String.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Message is one plain-text email to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string
}

// Sender delivers a message or says why not.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTP sends through one SMTP server. Build it with Parse.
type SMTP struct {
	addr        string // host:port
	host        string
	implicitTLS bool // smtps://: TLS from the first byte; smtp:// upgrades with STARTTLS
	user, pass  string
	from        *mail.Address
	// TLS overrides the TLS settings (tests trust their own certificate); nil: the system's roots
	// and the URL's host as the server name.
	TLS *tls.Config
	// Timeout bounds one whole delivery, connection to QUIT (default 30s).
	Timeout time.Duration
}

// Parse reads an SMTP URL — smtp://[user:password@]host[:port] (port 587, STARTTLS) or
// smtps://[user:password@]host[:port] (port 465, TLS) — and the From address ("Polydev
// <noreply@example.com>" or a bare address). Its errors never contain the password.
func Parse(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error repeats the whole URL, password included: say what is wrong without it.
		return nil, errors.New("POLYDEV_SMTP_URL is not a URL like smtp://user:password@host:587 (special characters in the password must be %-escaped)")
	}
	s := &SMTP{host: u.Hostname()}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		port = cmpOr(port, "587")
	case "smtps":
		port, s.implicitTLS = cmpOr(port, "465"), true
	default:
		return nil, fmt.Errorf("POLYDEV_SMTP_URL must start with smtp:// or smtps://, not %q", u.Scheme+"://")
	}
	if s.host == "" || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("POLYDEV_SMTP_URL must be scheme://[user:password@]host[:port] and nothing more (host %q)", s.host)
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if s.from, err = parseAddress(from); err != nil {
		return nil, fmt.Errorf("POLYDEV_SMTP_FROM: %w", err)
	}
	return s, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// parseAddress accepts one address, with or without a display name, and no line breaks (which
// would let a value write headers of its own).
func parseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("an address cannot contain a line break")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an email address", s)
	}
	return a, nil
}

// String describes the server without its password: "smtp://user@host:587".
func (s *SMTP) String() string {
	scheme := map[bool]string{false: "smtp", true: "smtps"}[s.implicitTLS]
	if s.user != "" {
		return scheme + "://" + url.User(s.user).String() + "@" + s.addr
	}
	return scheme + "://" + s.addr
}

// From is the sender's address as configured.
func (s *SMTP) From() string { return s.from.String() }

// Send delivers m in one SMTP session. On smtp:// the connection is upgraded with STARTTLS when
// the server offers it; a server that does not offer it is only used on loopback (a local relay),
// so mailed links and the password never cross a network in clear.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := parseAddress(m.To)
	if err != nil {
		return fmt.Errorf("mail: recipient: %w", err)
	}
	body, err := format(s.from, to, m, time.Now())
	if err != nil {
		return err
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", s.addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // a cancelled request stops the session
	defer stop()
	if s.implicitTLS {
		conn = tls.Client(conn, s.tlsConfig())
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fmt.Errorf("mail: %s: greeting: %w", s.addr, err)
	}
	defer c.Close()
	if err := s.secure(c); err != nil {
		return err
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return fmt.Errorf("mail: %s: login as %q refused: %w", s.addr, s.user, err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail: %s: MAIL FROM refused: %w", s.addr, err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("mail: %s: recipient refused: %w", s.addr, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: %s: DATA refused: %w", s.addr, err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("mail: %s: sending the message: %w", s.addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: %s: message refused: %w", s.addr, err)
	}
	_ = c.Quit() // the message is accepted; a failed goodbye changes nothing
	return nil
}

// secure upgrades a smtp:// session with STARTTLS, or refuses to go on in clear off loopback.
func (s *SMTP) secure(c *smtp.Client) error {
	if s.implicitTLS {
		return nil
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return fmt.Errorf("mail: %s: STARTTLS: %w", s.addr, err)
		}
		return nil
	}
	if !loopback(s.host) {
		return fmt.Errorf("mail: %s offers no STARTTLS; refusing to send mail in clear over the network (use smtps://, or a relay on loopback)", s.addr)
	}
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.TLS != nil {
		return s.TLS
	}
	return &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
