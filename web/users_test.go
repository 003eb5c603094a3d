package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
)

// TestUserAdminRoutesForbidNonAdmins: every user-management route refuses non-admins (403) and
// anonymous callers (401), and changes nothing.
func TestUserAdminRoutesForbidNonAdmins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	user := e.signup("user@example.com", pw)
	victim := e.signup("victim@example.com", pw)
	secret, _ := e.token(user)
	var me userResponse
	e.want(e.do("GET", "/api/account/me", nil, "Cookie", victim), http.StatusOK).json(t, &me)
	id := me.User.ID
	for _, rt := range []struct{ method, path, body string }{
		{"GET", "/api/admin/users", ""},
		{"GET", "/api/admin/users/" + id, ""},
		{"PATCH", "/api/admin/users/" + id, `{"tier":"enterprise","role":"admin","disabled":true}`},
		{"POST", "/api/admin/users/" + id + "/password", `{"password":"attacker-password-1"}`},
	} {
		e.want(e.do(rt.method, rt.path, rt.body, "Cookie", user), http.StatusForbidden).errorBody(t)
		e.want(e.do(rt.method, rt.path, rt.body, "Authorization", "Bearer "+secret), http.StatusForbidden)
		e.want(e.do(rt.method, rt.path, rt.body), http.StatusUnauthorized).errorBody(t)
	}
	after, err := e.store.UserByID(t.Context(), id)
	if err != nil || after.Tier != polydev.TierFree || after.Role != polydev.RoleUser || after.Disabled() || !after.UpdatedAt.Equal(me.User.UpdatedAt) {
		t.Fatalf("victim changed by a non-admin: %+v, %v", after, err)
	}
	e.want(e.do("POST", "/api/account/login", map[string]string{"email": "victim@example.com", "password": pw}), http.StatusOK)
}

func TestUserAdmin(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			admin := e.signup("admin@example.com", pw)
			e.makeAdmin("admin@example.com")
			user := e.signup("bob@example.com", pw)
			secret, _ := e.token(user)

			var list struct {
				Users []*polydev.User `json:"users"`
				Next  string          `json:"next"`
			}
			e.want(e.do("GET", "/api/admin/users?q=BOB", nil, "Cookie", admin), http.StatusOK).json(t, &list)
			if len(list.Users) != 1 || list.Users[0].Email != "bob@example.com" || strings.Contains(string(e.do("GET", "/api/admin/users", nil, "Cookie", admin).body), "argon2") {
				t.Fatalf("search = %+v", list.Users)
			}
			bob := *list.Users[0] // a copy: the next decode reuses the slice
			e.want(e.do("GET", "/api/admin/users?limit=1", nil, "Cookie", admin), http.StatusOK).json(t, &list)
			if len(list.Users) != 1 || list.Next != "admin@example.com" {
				t.Fatalf("first page = %+v next %q", list.Users, list.Next)
			}

			// Tier and role.
			var got userResponse
			e.want(e.do("PATCH", "/api/admin/users/"+bob.ID, `{"tier":"pro"}`, "Cookie", admin), http.StatusOK).json(t, &got)
			if got.User.Tier != polydev.TierPro || got.User.Role != polydev.RoleUser {
				t.Fatalf("after tier change = %+v", got.User)
			}
			e.want(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer "+secret), http.StatusOK).json(t, &got)
			if got.User.Tier != polydev.TierPro {
				t.Fatalf("bob's own view of the tier = %s", got.User.Tier)
			}

			// Bad input changes nothing.
			for _, b := range []string{`{}`, `{"tier":"gold"}`, `{"role":"root"}`, `{"disabled":"yes"}`, `{"tier":"plus","extra":1}`} {
				e.want(e.do("PATCH", "/api/admin/users/"+bob.ID, b, "Cookie", admin), http.StatusBadRequest).errorBody(t)
			}
			e.want(e.do("PATCH", "/api/admin/users/not-an-id", `{"tier":"plus"}`, "Cookie", admin), http.StatusNotFound).errorBody(t)
			e.want(e.do("PATCH", "/api/admin/users/"+polydev.NewID(), `{"tier":"plus"}`, "Cookie", admin), http.StatusNotFound).errorBody(t)
			if u, _ := e.store.UserByID(t.Context(), bob.ID); u.Tier != polydev.TierPro {
				t.Fatalf("a rejected PATCH changed the tier to %s", u.Tier)
			}

			// An admin cannot lock themselves out.
			var adminMe userResponse
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", admin), http.StatusOK).json(t, &adminMe)
			e.want(e.do("PATCH", "/api/admin/users/"+adminMe.User.ID, `{"disabled":true}`, "Cookie", admin), http.StatusBadRequest)
			e.want(e.do("PATCH", "/api/admin/users/"+adminMe.User.ID, `{"role":"user"}`, "Cookie", admin), http.StatusBadRequest)

			// Disable: session and token stop at once, login is refused; enable restores login.
			e.want(e.do("PATCH", "/api/admin/users/"+bob.ID, `{"disabled":true}`, "Cookie", admin), http.StatusOK).json(t, &got)
			if !got.User.Disabled() {
				t.Fatal("PATCH disabled:true did not disable")
			}
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", user), http.StatusUnauthorized)
			if msg := e.want(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer "+secret), http.StatusUnauthorized).errorBody(t).Message; !strings.Contains(msg, "disabled") {
				t.Fatalf("disabled token message = %q", msg)
			}
			e.want(e.do("POST", "/v1/chat/completions", `{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer "+secret), http.StatusUnauthorized)
			e.want(e.do("POST", "/api/account/login", map[string]string{"email": "bob@example.com", "password": pw}), http.StatusUnauthorized)
			e.want(e.do("PATCH", "/api/admin/users/"+bob.ID, `{"disabled":false}`, "Cookie", admin), http.StatusOK)
			e.want(e.do("GET", "/api/account/me", nil, "Authorization", "Bearer "+secret), http.StatusOK)
			user = sessionCookie(t, e.want(e.do("POST", "/api/account/login", map[string]string{"email": "bob@example.com", "password": pw}), http.StatusOK))

			// Password reset by an admin ends bob's sessions; the new password works, the old does not.
			e.want(e.do("POST", "/api/admin/users/"+bob.ID+"/password", `{"password":"short"}`, "Cookie", admin), http.StatusBadRequest)
			e.want(e.do("POST", "/api/admin/users/"+bob.ID+"/password", `{"password":"a-new-password-2"}`, "Cookie", admin), http.StatusNoContent)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", user), http.StatusUnauthorized)
			e.want(e.do("POST", "/api/account/login", map[string]string{"email": "bob@example.com", "password": pw}), http.StatusUnauthorized)
			e.want(e.do("POST", "/api/account/login", map[string]string{"email": "bob@example.com", "password": "a-new-password-2"}), http.StatusOK)
			if strings.Contains(e.logs.String(), "a-new-password-2") {
				t.Fatal("a password reached the log")
			}
		})
	}
}

func TestChangePasswordAndLogoutAll(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			first := e.signup("carol@example.com", pw)
			second := sessionCookie(t, e.want(e.do("POST", "/api/account/login", map[string]string{"email": "carol@example.com", "password": pw}), http.StatusOK))
			third := sessionCookie(t, e.want(e.do("POST", "/api/account/login", map[string]string{"email": "carol@example.com", "password": pw}), http.StatusOK))
			other := e.signup("dave@example.com", pw)

			// The current password is required and must be right; the new one must pass the policy.
			e.want(e.do("POST", "/api/account/password", map[string]string{"currentPassword": "wrong-password-1", "newPassword": "another-password-3"}, "Cookie", first), http.StatusForbidden).errorBody(t)
			e.want(e.do("POST", "/api/account/password", map[string]string{"currentPassword": pw, "newPassword": "short"}, "Cookie", first), http.StatusBadRequest).errorBody(t)
			e.want(e.do("POST", "/api/account/login", map[string]string{"email": "carol@example.com", "password": pw}), http.StatusOK)

			e.want(e.do("POST", "/api/account/password", map[string]string{"currentPassword": pw, "newPassword": "another-password-3"}, "Cookie", first), http.StatusNoContent)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", first), http.StatusOK) // the session that changed it stays
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", second), http.StatusUnauthorized)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", third), http.StatusUnauthorized)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", other), http.StatusOK) // another account is untouched
			e.want(e.do("POST", "/api/account/login", map[string]string{"email": "carol@example.com", "password": pw}), http.StatusUnauthorized)
			again := sessionCookie(t, e.want(e.do("POST", "/api/account/login", map[string]string{"email": "carol@example.com", "password": "another-password-3"}), http.StatusOK))

			// Sign out everywhere ends this session too.
			e.want(e.do("POST", "/api/account/logout-all", nil, "Cookie", first), http.StatusNoContent)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", first), http.StatusUnauthorized)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", again), http.StatusUnauthorized)
			e.want(e.do("GET", "/api/account/me", nil, "Cookie", other), http.StatusOK)
		})
	}
}
