// Package ui is Polydev's web interface: server-rendered HTML pages (html/template) with their CSS and
// a little JavaScript, all embedded in the binary and mounted by package web beside the JSON API.
//
// Pages read through the same services the API handlers call (web.PageAPI); every change a page
// makes is a fetch to the JSON API by assets/app.js, so each action has exactly one path and one set
// of rules. This package must not hold business rules: when a page needs one, it belongs in the root
// package or a service below it. See README.md for how to add a page.
package ui

import (
	"net/http"

	"github.com/polydev/polydev/web"
)

// UI is the set of pages. Build it with New and hand it to web.Deps.Pages.
type UI struct {
	api   web.PageAPI
	pages *pageSet
}

// New parses the embedded templates; an error here is a bug in a template.
func New() (*UI, error) {
	ps, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &UI{pages: ps}, nil
}

// Mount registers the pages and assets on the API's mux (web.Pages).
func (u *UI) Mount(mux *http.ServeMux, api web.PageAPI) {
	u.api = api
	u.routes(mux)
}
