package web

import (
	"net/http"
	"strings"
	"testing"
)

// TestAccountRoutesMatrix is the authorization matrix of the routes issue 12 added (user
// administration, password change and reset, sign-out everywhere, email verification): no
// credentials → 401; a non-admin on an admin route → 403, even for their own id; an admin on an
// unknown or malformed id → 404; a user route acts on the caller only; a mailed secret acts on its
// own account whoever presents it.
func TestAccountRoutesMatrix(t *testing.T) {
	t.Parallel()
	e, smtpd := newMailEnv(t, "sqlite", Config{})
	admin := e.signupVerified(smtpd, "admin@example.com")
	e.makeAdmin("admin@example.com")
	alice := e.signupVerified(smtpd, "alice@example.com")
	aliceToken, _ := e.token(alice)
	e.want(e.do("POST", "/api/account/signup", map[string]string{"email": "bob@example.com", "password": pw}), http.StatusAccepted)
	bobVerify := verifySecret.FindString(smtpd.Next(t).Body)
	bob := e.login("bob@example.com", pw)
	bobID, aliceID := e.userID(bob), e.userID(alice)

	type route struct{ method, path, body string }
	admins := []route{
		{"GET", "/api/admin/users", ""},
		{"GET", "/api/admin/users/" + bobID, ""},
		{"PATCH", "/api/admin/users/" + bobID, `{"tier":"enterprise","role":"admin","disabled":true}`},
		{"POST", "/api/admin/users/" + bobID + "/password", `{"password":"attacker-password-1"}`},
		{"GET", "/api/admin/users/" + aliceID, ""}, // the caller's own id is no exception
		{"PATCH", "/api/admin/users/" + aliceID, `{"role":"admin"}`},
	}
	users := []route{
		{"POST", "/api/account/password", `{"currentPassword":"` + pw + `","newPassword":"attacker-password-1"}`},
		{"POST", "/api/account/logout-all", ""},
		{"POST", "/api/account/verify/resend", ""},
	}
	for _, rt := range append(append([]route{}, admins...), users...) {
		e.want(e.do(rt.method, rt.path, rt.body), http.StatusUnauthorized).errorBody(t)
		e.want(e.do(rt.method, rt.path, rt.body, "Cookie", SessionCookie+"=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), http.StatusUnauthorized)
		e.want(e.do(rt.method, rt.path, rt.body, "Authorization", "Bearer pd_"+strings.Repeat("A", 43)), http.StatusUnauthorized)
	}
	for _, rt := range admins {
		e.want(e.do(rt.method, rt.path, rt.body, "Cookie", alice), http.StatusForbidden).errorBody(t)
		e.want(e.do(rt.method, rt.path, rt.body, "Authorization", "Bearer "+aliceToken), http.StatusForbidden)
	}
	for _, id := range []string{"00000000-0000-4000-8000-000000000000", "not-an-id", "..%2f..%2fetc"} {
		e.want(e.do("GET", "/api/admin/users/"+id, nil, "Cookie", admin), http.StatusNotFound).errorBody(t)
		e.want(e.do("PATCH", "/api/admin/users/"+id, `{"tier":"plus"}`, "Cookie", admin), http.StatusNotFound)
		e.want(e.do("POST", "/api/admin/users/"+id+"/password", `{"password":"another-password-2"}`, "Cookie", admin), http.StatusNotFound)
	}

	// Nothing above changed bob or alice.
	var me userResponse
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", bob), http.StatusOK).json(t, &me)
	if me.User.Tier != "free" || me.User.Role != "user" || me.User.Disabled() || me.User.Verified() {
		t.Fatalf("bob changed by others: %+v", me.User)
	}
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", alice), http.StatusOK).json(t, &me)
	if me.User.Role != "user" {
		t.Fatalf("alice made herself admin: %+v", me.User)
	}
	e.login("bob@example.com", pw)

	// User routes act on the caller: alice's resend is refused (she is verified) and mails nobody,
	// her logout-all and password change leave bob signed in with his password.
	e.want(e.do("POST", "/api/account/verify/resend", nil, "Cookie", alice), http.StatusConflict)
	e.want(e.do("POST", "/api/account/password", map[string]string{"currentPassword": pw, "newPassword": "alice-password-2"}, "Cookie", alice), http.StatusNoContent)
	e.want(e.do("POST", "/api/account/logout-all", nil, "Cookie", alice), http.StatusNoContent)
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", bob), http.StatusOK)
	e.login("bob@example.com", pw)
	e.drainMail()
	if n := len(smtpd.Pending()); n != 0 {
		t.Fatalf("%d unexpected mails", n)
	}

	// A mailed secret acts on its own account, whoever's session comes with it.
	e.want(e.do("POST", "/api/account/verify", map[string]string{"token": bobVerify}, "Cookie", admin), http.StatusNoContent)
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", bob), http.StatusOK).json(t, &me)
	if !me.User.Verified() {
		t.Fatal("bob's link did not verify bob")
	}
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", admin), http.StatusOK)
}

func (e *env) userID(cookie string) string {
	e.t.Helper()
	var me userResponse
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", cookie), http.StatusOK).json(e.t, &me)
	return me.User.ID
}
