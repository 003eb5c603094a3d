package testkit

import (
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// SMTPServer is a loopback SMTP server that keeps what it is sent. Set User and Pass before the
// first connection to require AUTH PLAIN; SetFailing makes it refuse messages with a 451.
type SMTPServer struct {
	User, Pass string

	ln      net.Listener
	mail    chan *Mail
	failing atomic.Bool
	wg      sync.WaitGroup
}

// Mail is one accepted message.
type Mail struct {
	From    string   // MAIL FROM
	To      []string // RCPT TO
	AuthAs  string   // the user of a successful AUTH, "" for none
	Raw     []byte   // the DATA, dot-unstuffed
	Subject string   // decoded
	Body    string   // decoded from its transfer encoding
	Header  mail.Header
}

// NewSMTP starts a server on 127.0.0.1; it stops when the test ends.
func NewSMTP(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{ln: ln, mail: make(chan *Mail, 100)}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// Addr is the server's host:port.
func (s *SMTPServer) Addr() string { return s.ln.Addr().String() }

// URL is an smtp:// URL for the server, with User and Pass when set.
func (s *SMTPServer) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr()}
	if s.User != "" {
		u.User = url.UserPassword(s.User, s.Pass)
	}
	return u.String()
}

// SetFailing makes the server refuse (451) or accept messages.
func (s *SMTPServer) SetFailing(on bool) { s.failing.Store(on) }

// Next waits for the next accepted message. The wait is bounded only so that a broken test fails
// instead of hanging; nothing is timed.
func (s *SMTPServer) Next(t testing.TB) *Mail {
	t.Helper()
	select {
	case m := <-s.mail:
		return m
	case <-time.After(60 * time.Second):
		t.Fatal("no mail arrived")
		return nil
	}
}

// Pending returns the messages accepted and not yet taken by Next, without waiting.
func (s *SMTPServer) Pending() []*Mail {
	var out []*Mail
	for {
		select {
		case m := <-s.mail:
			out = append(out, m)
		default:
			return out
		}
	}
}

func (s *SMTPServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(time.Minute))
			s.serve(textproto.NewConn(c))
		}()
	}
}

// serve speaks the server side of one session: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
// NOOP, QUIT.
func (s *SMTPServer) serve(c *textproto.Conn) {
	reply := func(format string, args ...any) bool { return c.PrintfLine(format, args...) == nil }
	if !reply("220 testkit SMTP ready") {
		return
	}
	var cur Mail
	authed := ""
	for {
		line, err := c.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			ext := "250-testkit\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN"
			if s.User == "" {
				ext = "250-testkit\r\n250-8BITMIME\r\n250 SMTPUTF8"
			}
			if !reply("%s", ext) {
				return
			}
		case "HELO", "NOOP":
			reply("250 ok")
		case "RSET":
			cur = Mail{}
			reply("250 ok")
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				reply("504 only PLAIN")
				continue
			}
			if resp == "" {
				reply("334 ")
				if resp, err = c.ReadLine(); err != nil {
					return
				}
			}
			if user, ok := s.checkPlain(resp); ok {
				authed = user
				reply("235 authenticated")
			} else {
				reply("535 bad credentials")
			}
		case "MAIL":
			if s.User != "" && authed == "" {
				reply("530 authentication required")
				continue
			}
			cur = Mail{From: addrParam(arg, "FROM:"), AuthAs: authed}
			reply("250 ok")
		case "RCPT":
			if cur.From == "" {
				reply("503 MAIL first")
				continue
			}
			cur.To = append(cur.To, addrParam(arg, "TO:"))
			reply("250 ok")
		case "DATA":
			if len(cur.To) == 0 {
				reply("503 RCPT first")
				continue
			}
			reply("354 go ahead")
			raw, err := c.ReadDotBytes()
			if err != nil {
				return
			}
			if s.failing.Load() {
				reply("451 try again later")
				continue
			}
			m := cur
			m.Raw = raw
			if err := m.decode(); err != nil {
				reply("554 unreadable message: %v", err)
				continue
			}
			s.mail <- &m
			cur = Mail{}
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 unknown command")
		}
	}
}

func (s *SMTPServer) checkPlain(resp string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return "", false
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 3 || parts[1] != s.User || parts[2] != s.Pass {
		return "", false
	}
	return parts[1], true
}

// addrParam reads "FROM:<a@b> BODY=8BITMIME" as "a@b".
func addrParam(arg, prefix string) string {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return ""
	}
	a, _, _ := strings.Cut(strings.TrimSpace(arg[len(prefix):]), " ")
	return strings.Trim(a, "<>")
}

// decode parses Raw: the headers, the subject and the body in its transfer encoding.
func (m *Mail) decode() error {
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Raw)))
	if err != nil {
		return err
	}
	m.Header = msg.Header
	if m.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return err
	}
	body := msg.Body
	switch cte := strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")); cte {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "", "7bit", "8bit":
	default:
		return fmt.Errorf("transfer encoding %q", cte)
	}
	b, err := io.ReadAll(body)
	m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
	return err
}
