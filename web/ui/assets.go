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

// assetVersion is a content hash per asset: URLs carry it (?v=), so browsers may cache assets for a
// year and still see a new release at once.
var assetVersion = func() map[string]string {
	m := map[string]string{}
	files, _ := fs.Glob(assetFS, "assets/*")
	for _, f := range files {
		b, _ := assetFS.ReadFile(f)
		sum := sha256.Sum256(b)
		m[path.Base(f)] = hex.EncodeToString(sum[:6])
	}
	return m
}()

// assetURL is the template function "asset": the versioned URL of an embedded asset.
func assetURL(name string) string {
	return "/assets/" + name + "?v=" + assetVersion[name]
}

// assetHandler serves the embedded assets; unknown names are a plain 404.
func assetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		v, ok := assetVersion[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := assetFS.ReadFile("assets/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
		if r.URL.Query().Get("v") == v {
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
