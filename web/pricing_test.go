package web

import (
	"net/http"
	"testing"
)

func TestAdminPricing(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, engine, Config{})
			admin := e.signup("prices@example.com", pw)
			e.makeAdmin("prices@example.com")
			type entry struct {
				Model           string
				InputPerMTok    float64
				MaxOutputTokens int64
				Source          string
			}
			var got struct{ Prices []entry }
			find := func(model string) entry {
				for _, p := range got.Prices {
					if p.Model == model {
						return p
					}
				}
				t.Fatalf("%s not in the table", model)
				return entry{}
			}
			e.want(e.do("GET", "/api/admin/pricing", nil, "Cookie", admin), http.StatusOK).json(t, &got)
			if p := find("openai/gpt-4o-mini"); p.InputPerMTok != 0.15 || p.Source != "default" {
				t.Fatalf("default = %+v", p)
			}
			e.want(e.do("PUT", "/api/admin/pricing", `{"prices":[{"model":"openai/gpt-4o-mini","inputPerMTok":0.2,"outputPerMTok":0.8,"maxOutputTokens":4096},
				{"model":"openai-compatible/llama3.1:8b","inputPerMTok":0,"outputPerMTok":0}]}`, "Cookie", admin), http.StatusOK).json(t, &got)
			if p := find("openai/gpt-4o-mini"); p.InputPerMTok != 0.2 || p.Source != "override" || p.MaxOutputTokens != 4096 {
				t.Fatalf("override = %+v", p)
			}
			find("openai-compatible/llama3.1:8b")
			for _, bad := range []string{
				`{}`, `{"prices":[{"model":"gpt-4o","inputPerMTok":1,"outputPerMTok":1}]}`,
				`{"prices":[{"model":"openai/x","inputPerMTok":-1,"outputPerMTok":1}]}`,
				`{"prices":[{"model":"openai/x","inputPerMTok":1}]}`,
				`{"prices":[{"model":"openai/x","inputPerMTok":"1","outputPerMTok":1}]}`,
				`{"prices":[{"model":"openai/x","inputPerMTok":1,"outputPerMTok":1},{"model":"openai/x","inputPerMTok":1,"outputPerMTok":1}]}`,
				`{"reset":["' OR 1=1"]}`,
				`{"prices":[{"model":"openai/x","inputPerMTok":1,"outputPerMTok":1,"maxOutputTokens":-1}]}`,
				`{"prices":[{"model":"openai/x","inputPerMTok":1,"outputPerMTok":1,"contextWindow":1e12}]}`,
			} {
				e.want(e.do("PUT", "/api/admin/pricing", bad, "Cookie", admin), http.StatusBadRequest).errorBody(t)
			}
			e.want(e.do("PUT", "/api/admin/pricing", `{"reset":["openai/gpt-4o-mini"]}`, "Cookie", admin), http.StatusOK).json(t, &got)
			if p := find("openai/gpt-4o-mini"); p.InputPerMTok != 0.15 || p.Source != "default" {
				t.Fatalf("after reset = %+v", p)
			}
			user := e.signup("u@example.com", pw)
			e.want(e.do("GET", "/api/admin/pricing", nil, "Cookie", user), http.StatusForbidden)
		})
	}
}
