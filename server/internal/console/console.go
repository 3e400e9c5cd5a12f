// Package console serves flowhook's browser console: the React app under console/ at the root
// of the repository, built by `make generate` into dist/ (committed, reproducible, checked for
// staleness like the other generated code) and embedded in the binary, so that any flowhook —
// `flowhook dev` included — serves it at /console/ with no Node installed.
//
// Hashed assets (/console/assets/…) are cached for a year as immutable; everything else is
// revalidated (no-cache, with an ETag), and every console path that is not a file answers with
// the app's page, whose router shows the page of the URL. A missing asset is a 404, never the
// page. Every answer carries a Content-Security-Policy that allows scripts, styles and calls
// only from this origin: Vite's page has no inline script or style.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Prefix is where the console is served.
const Prefix = "/console"

// CSP is the console's Content-Security-Policy. Links to a trace in Jaeger are plain navigations,
// which connect-src does not govern.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console under Prefix; mount it at Prefix+"/". GET /console redirects to
// /console/.
func Handler() http.Handler {
	root, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embedded tree always has dist/
	}
	index, err := fs.ReadFile(root, "index.html")
	if err != nil {
		panic("console: dist/index.html is missing: run make generate")
	}
	sum := sha256.Sum256(index)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	files := http.FileServerFS(root)
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix, http.RedirectHandler(Prefix+"/", http.StatusMovedPermanently))
	mux.Handle(Prefix+"/", http.StripPrefix(Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		if strings.HasPrefix(p, "/assets/") {
			if st, err := fs.Stat(root, strings.TrimPrefix(p, "/")); err != nil || st.IsDir() {
				http.Error(w, "no such console asset", http.StatusNotFound)
				return
			}
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
			files.ServeHTTP(w, r)
			return
		}
		h.Set("Cache-Control", "no-cache")
		if st, err := fs.Stat(root, strings.TrimPrefix(p, "/")); err == nil && !st.IsDir() && p != "/index.html" {
			files.ServeHTTP(w, r)
			return
		}
		// Every other path is a page of the app: its router reads the URL.
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(index))
	})))
	return mux
}
