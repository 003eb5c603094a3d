package web

import (
	"cmp"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/polydev/polydev"
)

// DefaultNoVNCDir is where Debian's novnc package puts the noVNC client.
const DefaultNoVNCDir = "/usr/share/novnc"

// novncStaticPrefix is where the host's noVNC client is served. The guest never serves a byte of
// it: a guest is untrusted, and script it served would run on our origin with the user's session.
const novncStaticPrefix = "/novnc/"

// novncCSP lets the page run only our own scripts and talk only to our own origin (the WebSocket
// included: CSP 3 'self' covers ws: and wss: on the same host). noVNC draws JPEG and PNG
// rectangles and its cursor from data: URLs.
const novncCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

// novncStatic answers GET /novnc/{path...} with a file of the host's noVNC directory
// (Config.NoVNCDir). It needs no credentials: the files are the public noVNC client. Directories
// are not listed, and no name (.., symlinks included) leaves the directory.
func (s *Server) novncStatic(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("path")
	if name == "" {
		name = "vnc.html"
	}
	notFound := polydev.Errorf(polydev.ENOTFOUND, "no such noVNC file")
	if !fs.ValidPath(name) || strings.ContainsAny(name, "\\\x00") {
		return notFound
	}
	dir := cmp.Or(s.cfg.NoVNCDir, DefaultNoVNCDir)
	root, err := os.OpenRoot(dir) // refuses any name or symlink leading out of dir
	if err != nil {
		s.log.Debug("noVNC directory unusable", "request_id", requestIDFrom(r.Context()), "dir", dir, "err", err)
		return polydev.Errorf(polydev.EUNAVAILABLE, "the noVNC viewer is not installed on this server: the operator must install it "+
			"(Debian: apt-get install novnc) or point POLYDEV_NOVNC_DIR at a noVNC directory")
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		return notFound // missing, unreadable, or outside the directory
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return notFound // directories are never listed
	}
	h := w.Header()
	h.Set("Content-Security-Policy", novncCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "SAMEORIGIN")                    // our own pages may frame the viewer
	h.Set("Cache-Control", "no-cache")                        // revalidate (Last-Modified) after a package upgrade
	http.ServeContent(w, r, path.Base(name), fi.ModTime(), f) // the type comes from the extension
	return nil
}
