package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/polydev/polydev"
	"github.com/polydev/polydev/web"
)

//go:embed templates/*.html
var templateFS embed.FS

// CSP is the Content-Security-Policy of every page: scripts, styles, images and connections from
// Polydev itself only; no inline script or style, no eval, no frames, forms post nowhere else.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// view is what every template receives: the page's own Data plus what the layout needs.
type view struct {
	Title  string
	Nav    string        // the nav entry to mark as current
	User   *polydev.User // nil for a visitor
	Script string        // the page's own module under assets/, if any
	Data   any
	Error  string // a failure to show instead of the content (error page)
	Status int
	Items  []navItem
}

// pageSet holds one template per page, each the layout plus the page's file (html/template needs a
// set per page, since every page defines "content").
type pageSet struct {
	byName map[string]*template.Template
}

func parsePages() (*pageSet, error) {
	funcs := template.FuncMap{"asset": assetURL, "money": money, "num": num, "pct": pct, "when": when, "ago": ago, "deref": deref, "add": add, "sub": sub, "derefMoney": derefMoney, "blank": blankModel, "cents": cents}
	// The layout and the partials (templates/_*.html: charts, ...) are in every page's set.
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	ps := &pageSet{byName: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, err
		}
		ps.byName[name] = t
	}
	return ps, nil
}

// render writes a page whole or not at all: the template runs into a buffer first, so a failing
// template becomes an error page instead of half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, name string, v *view) error {
	t, ok := u.pages.byName[name]
	if !ok {
		return fmt.Errorf("ui: no template %q", name)
	}
	v.Items = navFor(v.User)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return fmt.Errorf("ui: template %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", CSP)
	h.Set("Cache-Control", "no-store") // pages show private data; never cache them
	w.WriteHeader(cmpStatus(v.Status))
	_, err := w.Write(buf.Bytes())
	return err
}

func cmpStatus(s int) int {
	if s == 0 {
		return http.StatusOK
	}
	return s
}

// renderError shows a failure as a page with the user-facing message, never a raw error or JSON;
// the cause goes to the log.
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, user *polydev.User, err error) {
	st := web.ErrorStatus(err)
	if st >= 500 {
		u.api.Log.Error("page failed", "path", r.URL.Path, "err", err)
	}
	v := &view{Title: http.StatusText(st), User: user, Error: polydev.ErrorMessage(err), Status: st}
	if rerr := u.render(w, r, "error", v); rerr != nil {
		u.api.Log.Error("error page failed", "err", rerr)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
	}
}

// pageFunc renders one page for v.User (nil on public pages for a visitor).
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view) error

// public serves a page to anyone, with the user filled in when the request has a live session.
func (u *UI) public(h pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, err := u.api.User(w, r)
		if err != nil && polydev.ErrorCode(err) != polydev.EUNAUTHORIZED {
			u.renderError(w, r, nil, err)
			return
		}
		v := &view{User: user}
		if err := h(w, r, v); err != nil {
			u.renderError(w, r, user, err)
		}
	}
}

// signedIn serves a page to a signed-in user; a visitor is sent to /login, which brings them back.
func (u *UI) signedIn(h pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, err := u.api.User(w, r)
		if polydev.ErrorCode(err) == polydev.EUNAUTHORIZED {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		} else if err != nil {
			u.renderError(w, r, nil, err)
			return
		}
		if err := h(w, r, &view{User: user}); err != nil {
			u.renderError(w, r, user, err)
		}
	}
}

// admin serves a page to administrators only (the nav shows the admin entries to them alone).
func (u *UI) admin(h pageFunc) http.HandlerFunc {
	return u.signedIn(func(w http.ResponseWriter, r *http.Request, v *view) error {
		if !v.User.IsAdmin() {
			return polydev.Errorf(polydev.EFORBIDDEN, "this page is for administrators")
		}
		return h(w, r, v)
	})
}

// localPath keeps a "next" target on this site: a path, never another origin (//host, /\host).
func localPath(p, fallback string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return fallback
	}
	return p
}
