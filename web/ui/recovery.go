package ui

import (
	"net/http"

	"github.com/polydev/polydev"
)

// The pages behind the links the server mails (see web/recovery.go): the secret travels in the
// URL's fragment, which the browser never sends to a server, and assets/linktoken.js hands it to the
// API call. Without mail the pages say that the server sends none.

type recoveryData struct {
	MailOn      bool
	MinPassword int
}

func (u *UI) recoveryPage(name, title string) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *view) error {
		v.Title, v.Nav, v.Script = title, "login", "linktoken.js"
		v.Data = recoveryData{MailOn: u.api.MailOn, MinPassword: polydev.MinPasswordLen}
		return u.render(w, r, name, v)
	}
}
