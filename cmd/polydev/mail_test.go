package main

import (
	"flag"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/polydev/polydev/internal/testkit"
)

const smtpPass = "smtp-pass-9f3a"

// TestMailConfig: the SMTP settings are checked at start-up, and no error or String repeats the
// SMTP password.
func TestMailConfig(t *testing.T) {
	load := func(env map[string]string) (*Config, error) {
		return loadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	}
	c, err := load(map[string]string{})
	if err != nil || c.Mail != nil {
		t.Fatalf("no SMTP settings: mail %v, %v", c.Mail, err)
	}
	c, err = load(map[string]string{"POLYDEV_SMTP_URL": "smtps://polydev:" + smtpPass + "@mail.example.com", "POLYDEV_SMTP_FROM": "Polydev <noreply@example.com>",
		"POLYDEV_PUBLIC_URL": "https://polydev.example.com"})
	if err != nil || c.Mail == nil || c.Mail.String() != "smtps://polydev@mail.example.com:465" || c.PublicURL != "https://polydev.example.com" {
		t.Fatalf("mail %v public %q, %v", c.Mail, c.PublicURL, err)
	}
	for _, bad := range []map[string]string{
		{"POLYDEV_SMTP_URL": "smtp://u:" + smtpPass + "@host"},                                        // no From
		{"POLYDEV_SMTP_FROM": "noreply@example.com"},                                                  // no URL
		{"POLYDEV_SMTP_URL": "smtp://u:" + smtpPass + " @host", "POLYDEV_SMTP_FROM": "a@example.com"}, // unparsable
		{"POLYDEV_SMTP_URL": "imap://u:" + smtpPass + "@host", "POLYDEV_SMTP_FROM": "a@example.com"},
		{"POLYDEV_PUBLIC_URL": "polydev.example.com"},
		{"POLYDEV_PUBLIC_URL": "javascript:alert(1)"},
	} {
		_, err := load(bad)
		if err == nil {
			t.Fatalf("%v accepted", bad)
		}
		if strings.Contains(err.Error(), smtpPass) {
			t.Fatalf("error repeats the SMTP password: %v", err)
		}
	}
}

// TestServeWithMail: the real binary with POLYDEV_SMTP_URL sends the verification mail through a
// loopback SMTP server; the link works; the log names the server without its password.
func TestServeWithMail(t *testing.T) {
	t.Parallel()
	smtpd := testkit.NewSMTP(t)
	smtpd.User, smtpd.Pass = "polydev", smtpPass
	p := startServe(t, t.TempDir(), "POLYDEV_SMTP_URL="+smtpd.URL(), "POLYDEV_SMTP_FROM=Polydev <noreply@example.com>",
		"POLYDEV_PUBLIC_URL=https://polydev.example.com")
	c := client{t, p.base}
	c.want(http.StatusAccepted, "POST", "/api/account/signup", `{"email":"gil@example.com","password":"a long password"}`)
	m := smtpd.Next(t)
	secret := regexp.MustCompile(`pdv_[A-Za-z0-9_-]{43}`).FindString(m.Body)
	if m.To[0] != "gil@example.com" || secret == "" || !strings.Contains(m.Body, "https://polydev.example.com/account/verify-email#token="+secret) {
		t.Fatalf("mail to %v:\n%s", m.To, m.Body)
	}
	c.want(http.StatusNoContent, "POST", "/api/account/verify", `{"token":"`+secret+`"}`)
	logs := p.logs.String()
	if !strings.Contains(logs, "mail on") || strings.Contains(logs, smtpPass) || strings.Contains(logs, secret) {
		t.Fatalf("logs: mail on missing, or a secret in them:\n%s", logs)
	}
}
