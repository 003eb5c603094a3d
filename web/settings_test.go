package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/polydev/polydev"
)

func (e *env) settings(cookie string) settingsJSON {
	e.t.Helper()
	var s settingsJSON
	e.want(e.do("GET", "/api/security/settings", nil, "Cookie", cookie), http.StatusOK).json(e.t, &s)
	return s
}

// TestSecuritySettingsTierMatrix: for each tier, the default, whether it may change, and what turning
// ephemeral mode on and off does (allowed or a 403 naming the rule), and the mode in force after.
func TestSecuritySettingsTierMatrix(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			tests := []struct {
				tier                polydev.Tier
				rule                polydev.EphemeralRule
				def, canChange      bool
				onStatus, offStatus int
				afterOn, afterOff   bool
				refusal             string // in the 403's message
			}{
				{polydev.TierFree, polydev.EphemeralUnavailable, false, false, 403, 200, false, false, "not available on the free tier"},
				{polydev.TierPlus, polydev.EphemeralOptIn, false, true, 200, 200, true, false, ""},
				{polydev.TierPro, polydev.EphemeralDefaultOn, true, true, 200, 200, true, false, ""},
				{polydev.TierEnterprise, polydev.EphemeralForced, true, false, 200, 403, true, true, "always on for the enterprise tier"},
			}
			for _, tc := range tests {
				c := e.userWithTier(string(tc.tier)+"@example.com", tc.tier)
				got := e.settings(c)
				want := settingsJSON{Tier: tc.tier, EphemeralMode: tc.def, EphemeralDefault: tc.def, EphemeralRule: tc.rule,
					EphemeralCanChange: tc.canChange, EphemeralRequiresBYOK: tc.tier == polydev.TierEnterprise}
				if got != want {
					t.Fatalf("%s: GET = %+v, want %+v", tc.tier, got, want)
				}
				for _, step := range []struct {
					on     bool
					status int
					after  bool
				}{{true, tc.onStatus, tc.afterOn}, {false, tc.offStatus, tc.afterOff}} {
					r := e.want(e.do("PUT", "/api/security/settings", map[string]any{"ephemeralMode": step.on}, "Cookie", c), step.status)
					if step.status == http.StatusForbidden {
						if msg := r.errorBody(t).Message; !strings.Contains(msg, tc.refusal) {
							t.Fatalf("%s: 403 message %q does not name the rule", tc.tier, msg)
						}
					} else {
						var put settingsJSON
						r.json(t, &put)
						if put.EphemeralMode != step.after {
							t.Fatalf("%s: PUT on=%v answered ephemeralMode %v", tc.tier, step.on, put.EphemeralMode)
						}
					}
					if got := e.settings(c).EphemeralMode; got != step.after {
						t.Fatalf("%s: after setting %v (status %d), in force = %v, want %v", tc.tier, step.on, step.status, got, step.after)
					}
				}
				// null goes back to the tier's default.
				e.want(e.do("PUT", "/api/security/settings", `{"ephemeralMode":null}`, "Cookie", c), http.StatusOK)
				if got := e.settings(c).EphemeralMode; got != tc.def {
					t.Fatalf("%s: after null, in force = %v, want the default %v", tc.tier, got, tc.def)
				}
			}
		})
	}
}

// TestSecuritySettingsValidation: malformed input is a 400 and a refused request changes nothing,
// not even its valid fields.
func TestSecuritySettingsValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{})
	free := e.userWithTier("free@example.com", polydev.TierFree)
	plus := e.userWithTier("plus@example.com", polydev.TierPlus)
	for _, body := range []string{
		`{}`, `{"ephemeralMode":"yes"}`, `{"ephemeralMode":1}`, `{"clientSideStorage":null}`, `{"clientSideStorage":"true"}`,
		`{"ephemeral":true}`, `{"clientSideStorage":true,"ephemeralMode":"on"}`, `{"clientSideStorage":true} {}`, `[]`, `null`,
		`{"strictEphemeral":null}`, `{"strictEphemeral":"true"}`, `{"clientSideStorage":true,"strictEphemeral":1}`,
	} {
		e.want(e.do("PUT", "/api/security/settings", body, "Cookie", plus), http.StatusBadRequest).errorBody(t)
	}
	e.want(e.do("PUT", "/api/security/settings", `{"clientSideStorage":true,"ephemeralMode":true}`, "Cookie", free), http.StatusForbidden)
	e.want(e.do("PUT", "/api/security/settings", `{"clientSideStorage":true,"strictEphemeral":true}`, "Cookie", free), http.StatusForbidden)
	for _, c := range []string{free, plus} {
		if got := e.settings(c); got.ClientSideStorage || got.EphemeralMode || got.StrictEphemeral {
			t.Fatalf("a refused request changed settings: %+v", got)
		}
	}
	var put settingsJSON
	e.want(e.do("PUT", "/api/security/settings", `{"clientSideStorage":true}`, "Cookie", free), http.StatusOK).json(t, &put)
	if !put.ClientSideStorage || !e.settings(free).ClientSideStorage || e.settings(plus).ClientSideStorage {
		t.Fatalf("clientSideStorage not saved for its user only: %+v", put)
	}
	e.want(e.do("GET", "/api/security/settings", nil), http.StatusUnauthorized)

	// byokConfigured follows the user's active keys.
	var k keyResp
	e.want(e.do("POST", "/api/api-keys", map[string]any{"provider": "openai", "apiKey": "sk-settings-00000001"}, "Cookie", plus), http.StatusCreated).json(t, &k)
	if !e.settings(plus).BYOKConfigured {
		t.Fatal("byokConfigured false with an active key")
	}
	e.want(e.do("PATCH", "/api/api-keys/"+k.Key.ID, map[string]any{"active": false}, "Cookie", plus), http.StatusOK)
	if e.settings(plus).BYOKConfigured {
		t.Fatal("byokConfigured true with only an inactive key")
	}
}
