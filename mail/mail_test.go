package mail

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/polydev/polydev/internal/testkit"
)

const secretPass = "s3cret-p@ss-word"

func TestParse(t *testing.T) {
	t.Parallel()
	good := []struct{ url, want string }{
		{"smtp://mail.example.com", "smtp://mail.example.com:587"},
		{"smtps://u:p@mail.example.com", "smtps://u@mail.example.com:465"},
		{"smtp://me%40example.com:" + strings.ReplaceAll(secretPass, "@", "%40") + "@127.0.0.1:2525", "smtp://me%40example.com@127.0.0.1:2525"},
		{"smtp://[::1]:25/", "smtp://[::1]:25"},
	}
	for _, g := range good {
		s, err := Parse(g.url, "Polydev <noreply@example.com>")
		if err != nil {
			t.Fatalf("Parse(%q): %v", g.url, err)
		}
		if s.String() != g.want || strings.Contains(s.String(), "p@ss") {
			t.Fatalf("String() = %q, want %q", s.String(), g.want)
		}
	}
	bad := []struct{ url, from string }{
		{"http://mail.example.com", "a@example.com"},
		{"smtp://", "a@example.com"},
		{"smtp://u:" + secretPass + " x@host", "a@example.com"}, // unescaped: url.Parse would echo it
		{"smtp://host/path", "a@example.com"},
		{"smtp://host?x=1", "a@example.com"},
		{"smtp://host", ""},
		{"smtp://host", "not an address"},
		{"smtp://host", "a@example.com\r\nBcc: victim@example.com"},
	}
	for _, b := range bad {
		_, err := Parse(b.url, b.from)
		if err == nil {
			t.Fatalf("Parse(%q, %q) accepted", b.url, b.from)
		}
		if strings.Contains(err.Error(), secretPass) || strings.Contains(err.Error(), "p@ss") {
			t.Fatalf("error reveals the password: %v", err)
		}
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	srv := testkit.NewSMTP(t)
	srv.User, srv.Pass = "polydev", secretPass
	s, err := Parse(srv.URL(), "Polydev <noreply@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 200) // longer than a mail line may be: quoted-printable wraps it
	err = s.Send(t.Context(), Message{To: "José@example.com", Subject: "Vérifiez votre adresse", Text: "Bonjour,\nlink: " + long + "\n.\nend"})
	if err != nil {
		t.Fatal(err)
	}
	m := srv.Next(t)
	if m.AuthAs != "polydev" || m.From != "noreply@example.com" || len(m.To) != 1 || m.To[0] != "José@example.com" {
		t.Fatalf("envelope: auth %q from %q to %v", m.AuthAs, m.From, m.To)
	}
	if m.Subject != "Vérifiez votre adresse" || m.Body != "Bonjour,\nlink: "+long+"\n.\nend\n" {
		t.Fatalf("subject %q body %q", m.Subject, m.Body)
	}
	for _, h := range []string{"Date", "Message-Id", "From", "To"} {
		if m.Header.Get(h) == "" {
			t.Fatalf("header %s missing: %v", h, m.Header)
		}
	}
	for _, line := range strings.Split(string(m.Raw), "\n") { // ReadDotBytes turned CRLF into LF
		if len(line) > 78 {
			t.Fatalf("a line of %d bytes on the wire: %q", len(line), line)
		}
	}
}

// TestSendFailures: every failure is an error that says what failed, never with the password.
func TestSendFailures(t *testing.T) {
	t.Parallel()
	srv := testkit.NewSMTP(t)
	srv.User, srv.Pass = "polydev", secretPass
	wrong, err := Parse(strings.Replace(srv.URL(), "s3cret", "wrong", 1), "noreply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	good, err := Parse(srv.URL(), "noreply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	down, err := Parse("smtp://polydev:"+secretPass+"@"+closed, "noreply@example.com")
	if err != nil {
		t.Fatal(err)
	}
	msg := Message{To: "a@example.com", Subject: "s", Text: "t"}
	check := func(name string, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %v, want one containing %q", name, err, want)
		}
		if strings.Contains(err.Error(), secretPass) {
			t.Fatalf("%s: error reveals the password: %v", name, err)
		}
	}
	check("wrong password", wrong.Send(t.Context(), msg), "login as \"polydev\" refused")
	check("server down", down.Send(t.Context(), msg), "connect to "+closed)
	srv.SetFailing(true)
	check("message refused", good.Send(t.Context(), msg), "message refused")
	srv.SetFailing(false)
	check("header injection", good.Send(t.Context(), Message{To: "a@example.com\r\nBcc: b@example.com", Subject: "s", Text: "t"}), "line break")
	check("subject injection", good.Send(t.Context(), Message{To: "a@example.com", Subject: "s\r\nBcc: b@example.com", Text: "t"}), "line break")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check("cancelled", good.Send(ctx, msg), "canceled")
	if got := srv.Pending(); len(got) != 0 {
		t.Fatalf("%d messages delivered by failed sends", len(got))
	}
}
