package app_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/app"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

func newApp(t *testing.T, cfg config.Config) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), &telemetry.Telemetry{TracerProvider: noop.NewTracerProvider()})
	require.NoError(t, err)
	return a
}

// whoAmI calls WhoAmI on the app's handler with key.
func whoAmI(t *testing.T, a *app.App, key string) (*flowhookv1.WhoAmIResponse, error) {
	t.Helper()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	c := flowhookv1connect.NewIdentityServiceClient(srv.Client(), srv.URL)
	req := connect.NewRequest(&flowhookv1.WhoAmIRequest{})
	req.Header().Set("Authorization", "Bearer "+key)
	res, err := c.WhoAmI(context.Background(), req)
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// TestBootstrapGeneratesKeyOnce: an empty embedded database gets a first admin whose key is
// generated and handed out once; a restart creates nothing and the key keeps working.
func TestBootstrapGeneratesKeyOnce(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()

	first := newApp(t, cfg)
	key := first.BootstrapKey
	require.NotEmpty(t, key)
	me, err := whoAmI(t, first, key)
	require.NoError(t, err)
	require.Equal(t, "admin@flowhook.local", me.GetUser().GetEmail())
	require.Equal(t, []flowhookv1.Role{flowhookv1.Role_ROLE_ADMIN}, me.GetUser().GetRoles())
	require.NoError(t, first.Close())

	again := newApp(t, cfg)
	defer again.Close()
	require.Empty(t, again.BootstrapKey, "never again afterwards")
	_, err = whoAmI(t, again, key)
	require.NoError(t, err)
	_, err = whoAmI(t, again, "fh_not_the_key_at_all_000000")
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
}

// TestBootstrapConfiguredKeyRacingReplicas starts four replicas on one empty PostgreSQL
// database with the same configured key: one admin results, and the key works.
func TestBootstrapConfiguredKeyRacingReplicas(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DatabaseURL = dbtest.NewEmptyPostgres(t)
	cfg.BootstrapAdminKey = "fh_configured_bootstrap_key_42"
	apps := make([]*app.App, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range apps {
		wg.Go(func() {
			apps[i], errs[i] = app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), &telemetry.Telemetry{TracerProvider: noop.NewTracerProvider()})
		})
	}
	wg.Wait()
	for i, a := range apps {
		require.NoError(t, errs[i])
		require.Empty(t, a.BootstrapKey, "a configured key is not printed")
		defer a.Close()
	}
	var users int
	require.NoError(t, apps[0].DB().SQL.QueryRowContext(context.Background(), "SELECT count(*) FROM users").Scan(&users))
	require.Equal(t, 1, users)
	_, err := whoAmI(t, apps[3], cfg.BootstrapAdminKey)
	require.NoError(t, err)
}
