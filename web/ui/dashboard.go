package ui

import "net/http"

func (u *UI) dashboard(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Dashboard", "dashboard"
	return u.render(w, r, "dashboard", v)
}
