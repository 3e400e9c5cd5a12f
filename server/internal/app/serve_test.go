package app_test

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"

	"github.com/flowhook/flowhook/server/internal/app"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// TestServeFailsEarlyStopsEverything: Serve on a listener that fails at once (closed) returns
// the listener's error, having stopped the job queue it started (no goroutine beyond the open
// database's is left, goleak), and the database then closes cleanly, leaving none. Not parallel: goleak compares with the goroutines
// from before the test, and the parallel tests wait while it runs.
func TestServeFailsEarlyStopsEverything(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			cfg := config.Default()
			cfg.BootstrapAdminKey = "fh_serve_fails_early_admin_key"
			if d == store.Postgres {
				cfg.DatabaseURL = dbtest.NewPostgres(t)
			} else {
				cfg.DataDir = t.TempDir()
			}
			before := goleak.IgnoreCurrent()
			a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), &telemetry.Telemetry{TracerProvider: noop.NewTracerProvider()})
			require.NoError(t, err)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			require.NoError(t, ln.Close())
			opened := goleak.IgnoreCurrent() // the database's own

			err = a.Serve(context.Background(), ln)
			require.ErrorIs(t, err, net.ErrClosed)
			goleak.VerifyNone(t, opened) // Serve left no River client (nor server) running
			require.NoError(t, a.Close(), "the database closes under no job")
			goleak.VerifyNone(t, before)
		})
	}
}
