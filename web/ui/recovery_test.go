package ui_test

import (
	"regexp"
	"testing"

	"github.com/polydev/polydev/internal/testkit"
	"github.com/polydev/polydev/mail"
	"github.com/polydev/polydev/web"
)

// TestMailedLinksInChromium: with mail on, sign-up says to check the mail; the mailed link's page
// verifies the address; "forgot password" mails a reset link whose page sets a new password that
// then logs in. The secrets travel in the fragment and leave the address bar.
func TestMailedLinksInChromium(t *testing.T) {
	smtpd := testkit.NewSMTP(t)
	sender, err := mail.Parse(smtpd.URL(), "Polydev <noreply@example.com>")
	must(t, err)
	s := newSite(t, func(c *web.Config, d *web.Deps) {
		c.PublicURL = "https://polydev.example.com/"
		d.Mail = sender
	})
	b := newBrowser(t, s)
	defer logShotDir(t)

	b.visit("/signup")
	b.fill("input[name=email]", "ada@example.com")
	b.fill("input[name=password]", pw)
	b.click("#signup button[type=submit]")
	b.until(`!document.querySelector("#check-mail").hidden && document.querySelector("#check-mail").textContent.includes("Check your email")`)
	b.shot("signup-check-mail")

	verify := regexp.MustCompile(`/account/verify-email#token=(pdv_[A-Za-z0-9_-]{43})`).FindStringSubmatch(smtpd.Next(t).Body)
	if verify == nil {
		t.Fatal("no verification link in the mail")
	}
	b.visit("/account/verify-email#token=" + verify[1])
	b.until(`!document.querySelector("#verified").hidden`)
	b.shot("verify-email")
	if loc := b.location(); regexp.MustCompile(`pdv_`).MatchString(loc) {
		t.Fatalf("the secret stayed in the address bar: %s", loc)
	}
	u, err := s.Store.UserByEmail(t.Context(), "ada@example.com")
	must(t, err)
	if !u.Verified() {
		t.Fatal("the account is not verified after the link's page")
	}

	b.visit("/login")
	b.click("a[href='/account/forgot-password']")
	b.waitPath("/account/forgot-password")
	b.fill("input[name=email]", "ada@example.com")
	b.click("#forgot button[type=submit]")
	b.until(`!document.querySelector("#sent").hidden`)
	b.shot("forgot-password")
	reset := regexp.MustCompile(`/account/reset-password#token=(pdr_[A-Za-z0-9_-]{43})`).FindStringSubmatch(smtpd.Next(t).Body)
	if reset == nil {
		t.Fatal("no reset link in the mail")
	}
	b.visit("/account/reset-password#token=" + reset[1])
	b.shot("reset-password")
	b.fill("input[name=password]", "a brand new passphrase")
	b.click("#reset button[type=submit]")
	b.waitPath("/login")
	b.fill("input[name=email]", "ada@example.com")
	b.fill("input[name=password]", "a brand new passphrase")
	b.click("button[type=submit]")
	b.waitPath("/dashboard")
	b.check()
}
