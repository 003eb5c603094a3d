package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/polydev/polydev/mail"
)

// The mails Polydev sends. Each carries the link (when POLYDEV_PUBLIC_URL names a front end) and the
// same secret for the API, so the flows work from a script too. The secret rides in the link's
// fragment (#token=), which browsers never send to a server or in a Referer.

func (s *Server) link(path, secret string) string {
	if s.cfg.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(s.cfg.PublicURL, "/") + "/" + path + "#token=" + secret
}

func linkLine(link string) string {
	if link == "" {
		return ""
	}
	return "\n    " + link + "\n\nor send this to the API:"
}

func (s *Server) verificationMail(to, secret string) mail.Message {
	return mail.Message{To: to, Subject: "Verify your email address for Polydev", Text: fmt.Sprintf(`Hello,

Someone (we hope you) signed up for Polydev with this address. To confirm that it is yours,
within %s open%s

    POST /api/account/verify {"token": "%s"}

Until the address is verified the account can sign in, but not use the gateway, the chat or
browser VMs. If you did not sign up, ignore this mail: the account stays unverified.
`, human(s.cfg.VerifyTTL), linkLine(s.link("account/verify-email", secret)), secret)}
}

func (s *Server) resetMail(to, secret string) mail.Message {
	return mail.Message{To: to, Subject: "Reset your Polydev password", Text: fmt.Sprintf(`Hello,

Someone (we hope you) asked to set a new password for the Polydev account of this address.
The link works once, within %s: open%s

    POST /api/account/password/reset {"token": "%s", "password": "<your new password>"}

A new password signs the account out everywhere. If you did not ask for this, ignore this mail:
your password stays as it is.
`, human(s.cfg.ResetTTL), linkLine(s.link("account/reset-password", secret)), secret)}
}

// existingAccountMail tells an account's owner that someone tried to sign up with their address;
// the sign-up answer itself said nothing about it (no enumeration).
func existingAccountMail(to string) mail.Message {
	return mail.Message{To: to, Subject: "Sign-up attempt with your Polydev address", Text: `Hello,

Someone tried to sign up for Polydev with this address, which already has an account. Nothing
changed. If it was you, sign in; if you forgot your password, ask for a reset link
(POST /api/account/password/forgot {"email": "..."}). If it was not you, ignore this mail.
`}
}

// human writes a link lifetime the way a person reads it: "24 hours", "30 minutes".
func human(d time.Duration) string {
	unit, n := "minute", int(d/time.Minute)
	if d >= time.Hour && d%time.Hour == 0 {
		unit, n = "hour", int(d/time.Hour)
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
