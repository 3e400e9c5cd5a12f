package console_test

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/console"
)

func get(t *testing.T, h http.Handler, method, target string, header ...string) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	res := w.Result()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

// TestServesTheApp: the page at every app path, hashed assets immutable, a missing asset 404,
// the CSP everywhere, revalidation of the page by ETag.
func TestServesTheApp(t *testing.T) {
	h := console.Handler()
	res, _ := get(t, h, http.MethodGet, "/console")
	require.Equal(t, http.StatusMovedPermanently, res.StatusCode)
	require.Equal(t, "/console/", res.Header.Get("Location"))

	index, err := os.ReadFile("dist/index.html")
	require.NoError(t, err)
	var etag string
	for _, p := range []string{"/console/", "/console/index.html", "/console/instances/42", "/console/settings/docusign?x=1", "/console/assets"} {
		res, body := get(t, h, http.MethodGet, p)
		require.Equal(t, http.StatusOK, res.StatusCode, p)
		require.Equal(t, string(index), body, p)
		require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"), p)
		require.Equal(t, "no-cache", res.Header.Get("Cache-Control"), p)
		require.Equal(t, console.CSP, res.Header.Get("Content-Security-Policy"), p)
		require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), p)
		etag = res.Header.Get("ETag")
		require.NotEmpty(t, etag)
	}
	res, body := get(t, h, http.MethodGet, "/console/inbox", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, res.StatusCode)
	require.Empty(t, body)

	// The page names its assets; each is served immutable with its type.
	refs := regexp.MustCompile(`/console/assets/[^"]+`).FindAllString(string(index), -1)
	require.NotEmpty(t, refs, "index.html names no assets")
	for _, ref := range refs {
		res, body := get(t, h, http.MethodGet, ref)
		require.Equal(t, http.StatusOK, res.StatusCode, ref)
		require.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"), ref)
		require.NotEmpty(t, body)
		want := "text/javascript; charset=utf-8"
		if strings.HasSuffix(ref, ".css") {
			want = "text/css; charset=utf-8"
		}
		require.Equal(t, want, res.Header.Get("Content-Type"), ref)
		require.Equal(t, console.CSP, res.Header.Get("Content-Security-Policy"), ref)
	}
	// Compressed for a browser that accepts gzip, the same bytes once unzipped.
	for _, ref := range refs {
		_, plain := get(t, h, http.MethodGet, ref)
		res, body := get(t, h, http.MethodGet, ref, "Accept-Encoding", "gzip, deflate, br")
		require.Equal(t, http.StatusOK, res.StatusCode, ref)
		require.Equal(t, "gzip", res.Header.Get("Content-Encoding"), ref)
		require.Equal(t, "Accept-Encoding", res.Header.Get("Vary"), ref)
		require.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"), ref)
		require.Less(t, len(body), len(plain), ref)
		zr, err := gzip.NewReader(strings.NewReader(body))
		require.NoError(t, err)
		unzipped, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, plain, string(unzipped), ref)
		res, _ = get(t, h, http.MethodGet, ref, "Accept-Encoding", "gzip;q=0, br")
		require.Empty(t, res.Header.Get("Content-Encoding"), ref)
	}

	// The page has no inline script or style for the CSP to block.
	require.NotRegexp(t, `<script(?:\s[^>]*)?>[^<]`, string(index))
	require.NotContains(t, string(index), "<style")
	require.NotContains(t, string(index), "style=")

	// A missing asset is a 404, not the page, and is not cached as immutable.
	res, body = get(t, h, http.MethodGet, "/console/assets/index-missing.js")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	require.NotContains(t, body, "<html")
	require.Empty(t, res.Header.Get("Cache-Control"))

	// Nothing outside dist is reachable.
	res, body = get(t, h, http.MethodGet, "/console/../console.go")
	require.NotContains(t, body, "package console")
	require.NotEqual(t, http.StatusInternalServerError, res.StatusCode)

	res, _ = get(t, h, http.MethodPost, "/console/")
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	res, body = get(t, h, http.MethodHead, "/console/inbox")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Empty(t, body)
}

// TestEveryAssetIsReferenced: dist holds only what the build made (no stale chunks from an
// earlier build that make generate failed to clear).
func TestEveryAssetIsReferenced(t *testing.T) {
	var text strings.Builder
	var assets []string
	require.NoError(t, fs.WalkDir(os.DirFS("dist"), ".", func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile("dist/" + p)
		require.NoError(t, err)
		text.Write(b)
		if strings.HasPrefix(p, "assets/") {
			assets = append(assets, strings.TrimPrefix(p, "assets/"))
		}
		return nil
	}))
	for _, a := range assets {
		require.Contains(t, text.String(), a, "dist/assets/%s is referenced by nothing", a)
	}
}
