package api_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/gen/flowhook/v1/flowhookv1connect"
	"github.com/flowhook/flowhook/server/internal/app"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// database/sql's connection opener lives as long as a *sql.DB; pgx's pool health check too.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreAnyFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
	)
}

// bootstrapKey is the first admin's key in every test server.
const bootstrapKey = "fh_test_bootstrap_admin_key_0123456789"

// testBundle is a running flowhook server on a real database, with an admin's clients for it.
type testBundle struct {
	baseURL    string
	httpClient *http.Client // HTTP/1.1
	h2cClient  *http.Client // cleartext HTTP/2, for gRPC and bidi streams
	clients                 // the bootstrap admin's
	app        *app.App
	// legalGroupID is a group created at setup, the assignee of signingDraft's review.
	legalGroupID string
	cfg          config.Config
	// stop shuts the server down (drain, queue, database), as SIGTERM would; the test's end
	// does it too.
	stop func()
}

// clients are one caller's clients: Connect over HTTP/1.1, and designGRPC gRPC over h2c.
type clients struct {
	design     flowhookv1connect.WorkflowDesignServiceClient
	designGRPC flowhookv1connect.WorkflowDesignServiceClient
	instances  flowhookv1connect.WorkflowInstanceServiceClient
	identity   flowhookv1connect.IdentityServiceClient
	settings   flowhookv1connect.ProviderSettingsServiceClient
	eventLog   flowhookv1connect.EventLogServiceClient
	opts       []connect.ClientOption // the credentials these clients send
}

// as returns clients that send key as their bearer credential ("" sends none).
func (b *testBundle) as(key string) clients {
	return b.clientsWith(connect.WithInterceptors(bearer(key)))
}

// clientsWith returns clients of this server with the options (credentials, recorders).
func (b *testBundle) clientsWith(opts ...connect.ClientOption) clients {
	return clients{
		design:     flowhookv1connect.NewWorkflowDesignServiceClient(b.httpClient, b.baseURL, opts...),
		designGRPC: flowhookv1connect.NewWorkflowDesignServiceClient(b.h2cClient, b.baseURL, append(opts, connect.WithGRPC())...),
		instances:  flowhookv1connect.NewWorkflowInstanceServiceClient(b.httpClient, b.baseURL, opts...),
		identity:   flowhookv1connect.NewIdentityServiceClient(b.httpClient, b.baseURL, opts...),
		settings:   flowhookv1connect.NewProviderSettingsServiceClient(b.httpClient, b.baseURL, opts...),
		eventLog:   flowhookv1connect.NewEventLogServiceClient(b.httpClient, b.baseURL, opts...),
		opts:       opts,
	}
}

// bearer adds the Authorization header to every request.
func bearer(key string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if key != "" {
				req.Header().Set("Authorization", "Bearer "+key)
			}
			return next(ctx, req)
		}
	}
}

// draft is signingDraft with its review assigned to the bundle's legal group.
func (b *testBundle) draft(name string) *flowhookv1.WorkflowDraft {
	d := signingDraft(name)
	d.States[1].Assignee = &flowhookv1.Assignee{Assignee: &flowhookv1.Assignee_GroupId{GroupId: b.legalGroupID}}
	return d
}

// setup starts a server on a fresh database of the dialect; it stops when the test ends.
func setup(t testing.TB, d store.Dialect) *testBundle {
	t.Helper()
	return setupWith(t, d, nil, nil)
}

// setupWith is setup with telemetry (nil: none) and a change to the configuration (nil: none).
func setupWith(t testing.TB, d store.Dialect, tel *telemetry.Telemetry, configure func(*config.Config)) *testBundle {
	t.Helper()
	cfg := config.Default()
	opts := dbtest.Options(t, d)
	cfg.DatabaseURL, cfg.DataDir = opts.DatabaseURL, opts.DataDir
	cfg.DBMaxConns = 12
	cfg.MaxRequestBytes = 1 << 20
	cfg.BootstrapAdminKey = bootstrapKey
	if d == store.Postgres {
		cfg.SecretKey = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0zMmJ5dGU=" // 32 bytes, tests only
	}

	if configure != nil {
		configure(&cfg)
	}
	b := serveWith(t, cfg, tel)
	g, err := b.identity.CreateGroup(context.Background(), connect.NewRequest(&flowhookv1.CreateGroupRequest{Name: "legal"}))
	require.NoError(t, err)
	b.legalGroupID = g.Msg.GetGroup().GetId()
	return b
}

// replica starts another server on the bundle's database, as a second `flowhook serve` would.
func (b *testBundle) replica(t testing.TB) *testBundle {
	t.Helper()
	r := serve(t, b.cfg)
	r.legalGroupID = b.legalGroupID
	return r
}

// serve runs a server with cfg until the test ends.
func serve(t testing.TB, cfg config.Config) *testBundle {
	t.Helper()
	return serveWith(t, cfg, nil)
}

// serveWith runs a server with cfg and telemetry (nil: spans and metrics go nowhere).
func serveWith(t testing.TB, cfg config.Config, tel *telemetry.Telemetry) *testBundle {
	t.Helper()
	return serveWithLog(t, cfg, tel, nil)
}

// serveWithLog is serveWith with the server's logger (nil: logs go nowhere).
func serveWithLog(t testing.TB, cfg config.Config, tel *telemetry.Telemetry, log *slog.Logger) *testBundle {
	t.Helper()
	if tel == nil {
		tel = &telemetry.Telemetry{TracerProvider: noop.NewTracerProvider()}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	// Providers call back to this very server.
	cfg.PublicURL = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a, err := app.New(ctx, cfg, log, tel)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()

	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &protocols, TLSClientConfig: &tls.Config{}}}
	h1 := &http.Client{Transport: &http.Transport{}}
	baseURL := "http://" + ln.Addr().String()
	// The server answers, or says why it stopped (a listener that nobody serves would hang).
	probe := &http.Client{Timeout: 10 * time.Second}
	if res, err := probe.Get(baseURL + "/healthz"); err != nil {
		cancel()
		select {
		case serveErr := <-done:
			t.Fatalf("the server did not start: %v", serveErr)
		default:
			t.Fatalf("the server does not answer: %v", err)
		}
	} else {
		require.NoError(t, res.Body.Close())
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			h1.CloseIdleConnections()
			h2c.CloseIdleConnections()
			cancel()
			require.NoError(t, <-done)
			require.NoError(t, a.Close())
		})
	}
	t.Cleanup(stop)
	b := &testBundle{baseURL: baseURL, httpClient: h1, h2cClient: h2c, app: a, cfg: cfg, stop: stop}
	b.clients = b.as(bootstrapKey)
	return b
}

// forEachDialect runs the test on PostgreSQL and on SQLite.
func forEachDialect(t *testing.T, fn func(t *testing.T, d store.Dialect)) {
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// requireCode asserts err is a Connect error with the code and returns it.
func requireCode(t *testing.T, err error, code connect.Code) *connect.Error {
	t.Helper()
	require.Error(t, err)
	var cerr *connect.Error
	require.True(t, errors.As(err, &cerr), "not a connect error: %v", err)
	require.Equal(t, code, cerr.Code(), "message: %s", cerr.Message())
	return cerr
}

// problems returns the ValidationErrorDetails of an error as "path: message" strings.
func problems(t *testing.T, cerr *connect.Error) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range cerr.Details() {
		v, err := d.Value()
		require.NoError(t, err)
		if vd, ok := v.(*flowhookv1.ValidationErrorDetails); ok {
			for _, p := range vd.GetProblems() {
				out[p.GetPath()] = p.GetMessage()
			}
		}
	}
	require.NotEmpty(t, out, "the error carries no ValidationErrorDetails")
	return out
}
