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
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
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
			name := strings.TrimPrefix(p, "/")
			if st, err := fs.Stat(root, name); err != nil || st.IsDir() {
				http.Error(w, "no such console asset", http.StatusNotFound)
				return
			}
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
			h.Add("Vary", "Accept-Encoding")
			if gz := zipped.get(root, name); gz != nil && acceptsGzip(r) {
				if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
					h.Set("Content-Type", ct)
				}
				h.Set("Content-Encoding", "gzip")
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(gz))
				return
			}
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

// acceptsGzip reports whether the request accepts gzip (browsers always do).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") && !strings.Contains(strings.ReplaceAll(params, " ", ""), "q=0") {
			return true
		}
	}
	return false
}

// gzipCache compresses each text asset once, on its first request: the JavaScript and CSS
// shrink to about a third (elkjs's 1.4 MB to 0.45 MB).
type gzipCache struct{ m sync.Map } // name → []byte (nil: not worth compressing)

var zipped gzipCache

func (c *gzipCache) get(root fs.FS, name string) []byte {
	if v, ok := c.m.Load(name); ok {
		return v.([]byte)
	}
	var out []byte
	if ext := path.Ext(name); ext == ".js" || ext == ".css" || ext == ".svg" || ext == ".json" || ext == ".html" {
		if raw, err := fs.ReadFile(root, name); err == nil && len(raw) > 1024 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(raw)
			if zw.Close() == nil {
				out = buf.Bytes()
			}
		}
	}
	v, _ := c.m.LoadOrStore(name, out)
	return v.([]byte)
}
