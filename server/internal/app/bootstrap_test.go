package app_test

import (
	"bytes"
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
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
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
	// Four replicas at the default 30 each (their side pools opened at once), beside other
	// packages' tests on the same PostgreSQL, met its 100 connections in a CI run here.
	cfg.DBMaxConns = 8
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

// TestBootstrapKeyOnExistingDatabase: once the first admin exists, serve ignores a configured
// key that is no admin's and says so (never the key); dev adds it to the first admin's keys;
// afterwards it is known and nothing is said.
func TestBootstrapKeyOnExistingDatabase(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			if dialect == "postgres" {
				cfg.DatabaseURL = dbtest.NewEmptyPostgres(t)
			} else {
				cfg.DataDir = t.TempDir()
			}
			first := newApp(t, cfg)
			require.NotEmpty(t, first.BootstrapKey)
			require.NoError(t, first.Close())

			chosen := "fh_chosen_after_the_first_start_0001"
			cfg.BootstrapAdminKey = chosen
			start := func(adopt bool) (*app.App, string) {
				var logs bytes.Buffer
				c := cfg
				c.AdoptBootstrapKey = adopt
				a, err := app.New(context.Background(), c, slog.New(slog.NewJSONHandler(&logs, nil)), &telemetry.Telemetry{TracerProvider: noop.NewTracerProvider()})
				require.NoError(t, err)
				t.Cleanup(func() { a.Close() })
				require.NotContains(t, logs.String(), chosen, "the key is never logged")
				return a, logs.String()
			}

			served, logs := start(false)
			require.Equal(t, app.KeyIgnored, served.BootstrapKeyState)
			require.Contains(t, logs, `"level":"WARN","msg":"FLOWHOOK_BOOTSTRAP_ADMIN_KEY was ignored: the database already has its first admin`)
			_, err := whoAmI(t, served, chosen)
			require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))

			dev, logs := start(true)
			require.Equal(t, app.KeyAdopted, dev.BootstrapKeyState)
			require.Contains(t, logs, "added FLOWHOOK_BOOTSTRAP_ADMIN_KEY to the first admin's API keys")
			me, err := whoAmI(t, dev, chosen)
			require.NoError(t, err)
			require.Equal(t, "admin@flowhook.local", me.GetUser().GetEmail())
			_, err = whoAmI(t, dev, first.BootstrapKey)
			require.NoError(t, err, "the generated key still works")

			again, logs := start(false)
			require.Equal(t, app.KeyKnown, again.BootstrapKeyState)
			require.NotContains(t, logs, "BOOTSTRAP_ADMIN_KEY was ignored")
			require.Nil(t, again.Sandbox, "no sandbox unless asked for")

			// The first admin deactivated (another admin remains): its key is no longer called
			// an admin's, and a new key goes to an admin whose keys work.
			st := store.New(again.DB())
			other, err := st.CreateUser(context.Background(), engine.User{DisplayName: "Grace", Email: "grace@example.com", Roles: []engine.Role{engine.RoleAdmin}})
			require.NoError(t, err)
			// With a working key of her own: the last admin with one cannot be deactivated.
			_, err = st.CreateAPIKey(context.Background(), engine.APIKey{UserID: other.ID, Name: "grace", Prefix: "fh_grace", Hash: "hash-of-grace-s-key"})
			require.NoError(t, err)
			me, err = whoAmI(t, again, chosen)
			require.NoError(t, err)
			_, err = st.SetDeactivated(context.Background(), me.GetUser().GetId(), true)
			require.NoError(t, err)
			deactivated, logs := start(true)
			require.Equal(t, app.KeyIgnored, deactivated.BootstrapKeyState)
			require.Contains(t, logs, "FLOWHOOK_BOOTSTRAP_ADMIN_KEY was ignored: it is a revoked key, a deactivated user's or not an admin's")
			cfg.BootstrapAdminKey = "fh_chosen_after_the_admin_left_0002"
			adopted, _ := start(true)
			require.Equal(t, app.KeyAdopted, adopted.BootstrapKeyState)
			require.Equal(t, "grace@example.com", adopted.BootstrapKeyOwner)
			me, err = whoAmI(t, adopted, cfg.BootstrapAdminKey)
			require.NoError(t, err, "the key added works")
			require.Equal(t, other.ID, me.GetUser().GetId())
		})
	}
}
