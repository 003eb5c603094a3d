package ui

import (
	"net/http"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/conversations"
	"github.com/polydev/polydev/policy"
)

type chatData struct {
	Models     []string // provider/model the user can reach, grouped by provider in the picker
	Groups     []modelGroup
	Convs      []conversations.Summary
	Open       *conversations.Summary // the conversation opened with ?c=
	Messages   []conversations.Message
	Model      string // preselected model
	Ephemeral  policy.Ephemeral
	HasKey     map[polydev.Provider]bool
	ClientKeep bool // keep ephemeral conversations in the browser (the user's choice)
}

type modelGroup struct {
	Provider string
	Models   []string
}

func (u *UI) chat(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx, user := r.Context(), v.User
	d := &chatData{HasKey: map[polydev.Provider]bool{}}
	models, err := u.api.Router.Models(ctx, user)
	if err != nil {
		return err
	}
	for _, m := range models {
		d.Models = append(d.Models, m.Model)
		p, _, _ := strings.Cut(m.Model, "/")
		if n := len(d.Groups); n == 0 || d.Groups[n-1].Provider != p {
			d.Groups = append(d.Groups, modelGroup{Provider: p})
		}
		g := &d.Groups[len(d.Groups)-1]
		g.Models = append(g.Models, m.Model)
	}
	if u.api.Convs != nil {
		if d.Convs, err = u.api.Convs.List(ctx, user.ID, 50); err != nil {
			return err
		}
		if id := strings.ToLower(r.URL.Query().Get("c")); id != "" {
			if !polydev.ValidID(id) {
				return polydev.Errorf(polydev.ENOTFOUND, "conversation not found")
			}
			sum, err := u.api.Convs.Get(ctx, user.ID, id)
			if err != nil {
				return err
			}
			if d.Messages, err = u.api.Convs.Messages(ctx, user.ID, id, -1, conversations.MaxMessageLimit); err != nil {
				return err
			}
			d.Open, d.Model = &sum, sum.Model
		}
	}
	if d.Model == "" && len(d.Models) > 0 {
		d.Model = d.Models[0]
	}
	lim, err := u.api.Store.TierLimitsFor(ctx, user.Tier)
	if err != nil {
		return err
	}
	set, err := u.api.Store.UserSettings(ctx, user.ID)
	if err != nil {
		return err
	}
	d.Ephemeral = policy.ResolveEphemeral(lim.Ephemeral, set.EphemeralMode)
	d.ClientKeep = set.ClientSideStorage && d.Ephemeral.On
	v.Title, v.Nav, v.Data, v.Script = "Chat", "chat", d, "chat.js"
	return u.render(w, r, "chat", v)
}

// blankModel is the data of a "compare with" picker: the same models, none selected.
func blankModel(d *chatData) *chatData {
	c := *d
	c.Model = ""
	return &c
}
