package app_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/app"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// serveEmbedded runs a server on a fresh embedded database with the origins allowed, and
// returns its URL and bootstrap key.
func serveEmbedded(t *testing.T, origins []string) (string, string) {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.BootstrapAdminKey = "fh_cors_test_admin_key_0123456789"
	cfg.CORSOrigins = origins
	cfg.PublicURL = "http://127.0.0.1"
	require.NoError(t, cfg.Validate())
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), &telemetry.Telemetry{TracerProvider: noop.NewTracerProvider()})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-served)
		a.Close()
	})
	base := "http://" + ln.Addr().String()
	res, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	return base, cfg.BootstrapAdminKey
}

// TestCORS: a browser front end on an allowed origin may call the API with its bearer key
// (preflight, then the call, with Connect's headers exposed); other origins get no CORS
// headers, so the browser refuses to hand them the answer; without origins none are sent.
func TestCORS(t *testing.T) {
	t.Parallel()
	const procedure = "/flowhook.v1.IdentityService/WhoAmI"
	preflight := func(t *testing.T, base, origin string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodOptions, base+procedure, nil)
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		// As browsers send it: lower-case and sorted.
		req.Header.Set("Access-Control-Request-Headers", "authorization,connect-protocol-version,content-type")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		return res
	}
	call := func(t *testing.T, base, key, origin string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+procedure, strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("Origin", origin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.NoError(t, res.Body.Close())
		return res
	}

	t.Run("allowed origin", func(t *testing.T) {
		t.Parallel()
		base, key := serveEmbedded(t, []string{"https://app.example.com", "http://localhost:5173"})
		res := preflight(t, base, "http://localhost:5173")
		require.Equal(t, http.StatusNoContent, res.StatusCode)
		require.Equal(t, "http://localhost:5173", res.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "authorization")
		require.Contains(t, res.Header.Get("Access-Control-Allow-Methods"), "POST")
		require.Equal(t, "7200", res.Header.Get("Access-Control-Max-Age"))

		res = call(t, base, key, "https://app.example.com")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "https://app.example.com", res.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, res.Header.Get("Access-Control-Expose-Headers"), "Grpc-Status")
		// A wrong key is still refused: CORS opens the door to the origin, not to the API.
		require.Equal(t, http.StatusUnauthorized, call(t, base, "fh_wrong_key_0000000000000", "https://app.example.com").StatusCode)
	})

	t.Run("other origin", func(t *testing.T) {
		t.Parallel()
		base, key := serveEmbedded(t, []string{"https://app.example.com"})
		res := preflight(t, base, "https://evil.example.net")
		require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
		res = call(t, base, key, "https://evil.example.net")
		require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
	})

	t.Run("no origins configured", func(t *testing.T) {
		t.Parallel()
		base, key := serveEmbedded(t, nil)
		res := preflight(t, base, "https://app.example.com")
		require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
		res = call(t, base, key, "https://app.example.com")
		require.Equal(t, http.StatusOK, res.StatusCode, "same-origin and non-browser callers are unaffected")
		require.Empty(t, res.Header.Get("Access-Control-Allow-Origin"))
	})
}
