package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
)

//go:embed assets/*
var assetFS embed.FS

// assetVersion is a hash of every embedded asset together: asset URLs carry it
// (/assets/VERSION/NAME), so browsers may cache them for a year and still see a new release at once,
// and a module's relative import ("./app.js") names the very URL the page loaded, so each module runs
// once.
var assetVersion = func() string {
	h := sha256.New()
	files, _ := fs.Glob(assetFS, "assets/*")
	for _, f := range files {
		b, _ := assetFS.ReadFile(f)
		h.Write([]byte(f))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}()

// assetURL is the template function "asset": the versioned URL of an embedded asset.
func assetURL(name string) string {
	return "/assets/" + assetVersion + "/" + name
}

// assetHandler serves the embedded assets under any version (a page of the previous release still
// loads, uncached); unknown names are a plain 404.
func assetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, v := r.PathValue("file"), assetVersion
		b, err := assetFS.ReadFile("assets/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
		if r.PathValue("version") == v {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		h.Set("ETag", `"`+v+`"`)
		if r.Header.Get("If-None-Match") == `"`+v+`"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = w.Write(b)
	})
}
