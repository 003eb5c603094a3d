package web

import (
	"net/http"
	"testing"

	"github.com/polydev/polydev"
)

func TestAdminRoutesForbidNonAdmins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	user := e.signup("user@example.com", pw)
	secret, _ := e.token(user)
	for _, rt := range []struct{ method, path string }{
		{"GET", "/api/admin/tier-limits"},
		{"PUT", "/api/admin/tier-limits"},
	} {
		got := e.want(e.do(rt.method, rt.path, `{"tierLimits":[]}`, "Cookie", user), http.StatusForbidden).errorBody(t)
		if got.Type != "permission_error" {
			t.Fatalf("%s %s: type %q", rt.method, rt.path, got.Type)
		}
		e.want(e.do(rt.method, rt.path, `{"tierLimits":[]}`, "Authorization", "Bearer "+secret), http.StatusForbidden)
		e.want(e.do(rt.method, rt.path, `{"tierLimits":[]}`), http.StatusUnauthorized)
	}
}

func TestTierLimitsAPI(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			admin := e.signup("admin@example.com", pw)
			e.makeAdmin("admin@example.com")

			var got tierLimitsBody
			e.want(e.do("GET", "/api/admin/tier-limits", nil, "Cookie", admin), http.StatusOK).json(t, &got)
			if len(got.TierLimits) != 4 || got.TierLimits[0].Tier != polydev.TierFree {
				t.Fatalf("tier limits = %+v", got.TierLimits)
			}
			pro := got.TierLimits[2]
			n := int64(5)
			pro.RequestsPerDay = &n
			pro.AllowedModels = []string{"openai/*"}
			e.want(e.do("PUT", "/api/admin/tier-limits", tierLimitsBody{[]*polydev.TierLimits{pro}}, "Cookie", admin), http.StatusOK).json(t, &got)
			if *got.TierLimits[2].RequestsPerDay != 5 || got.TierLimits[2].AllowedModels[0] != "openai/*" {
				t.Fatalf("after PUT = %+v", got.TierLimits[2])
			}

			// Every bad request changes nothing.
			before, _ := e.store.ListTierLimits(t.Context())
			neg := int64(-1)
			bad := []any{
				`{"tierLimits":[]}`,
				`{"tierLimits":[null]}`,
				`{"tierLimits":[{"tier":"gold","byok":"available","ephemeral":"opt_in"}]}`,
				tierLimitsBody{[]*polydev.TierLimits{{Tier: "plus", BYOK: "unavailable", Ephemeral: "opt_in"}}},
				tierLimitsBody{[]*polydev.TierLimits{{Tier: "plus", BYOK: "available", Ephemeral: "opt_in", RequestsPerDay: &neg}}},
				tierLimitsBody{[]*polydev.TierLimits{{Tier: "plus", BYOK: "available", Ephemeral: "opt_in", AllowedModels: []string{"' OR 1=1"}}}},
				tierLimitsBody{[]*polydev.TierLimits{{Tier: "pro", BYOK: "available", Ephemeral: "opt_in"}, {Tier: "pro", BYOK: "available", Ephemeral: "opt_in"}}},
				tierLimitsBody{[]*polydev.TierLimits{{Tier: "free", BYOK: "unavailable", Ephemeral: "unavailable", PlatformKeys: true}, {Tier: "plus", BYOK: "never", Ephemeral: "opt_in"}}},
			}
			for _, b := range bad {
				e.want(e.do("PUT", "/api/admin/tier-limits", b, "Cookie", admin), http.StatusBadRequest).errorBody(t)
			}
			after, _ := e.store.ListTierLimits(t.Context())
			for i := range before {
				if before[i].UpdatedAt != after[i].UpdatedAt {
					t.Fatalf("a rejected PUT changed tier %s", before[i].Tier)
				}
			}
		})
	}
}
