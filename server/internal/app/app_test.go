package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/app"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// TestGracefulShutdown stops the server while a request is being handled: the request
// completes with its answer, then Serve returns and nothing listens any more. The request is
// held inside its handler by a table lock the test owns, and the test sees it waiting in
// pg_stat_activity before it stops the server.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	url := dbtest.NewPostgres(t)
	cfg := config.Default()
	cfg.DatabaseURL = url
	cfg.BootstrapAdminKey = "fh_graceful_shutdown_admin_key"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), &telemetry.Telemetry{TracerProvider: noop.NewTracerProvider()})
	require.NoError(t, err)
	defer a.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	// Serving starts after the job queue: wait for it before holding the lock. The GET waits
	// in the listener's backlog until the server accepts it.
	probe := &http.Client{Timeout: 60 * time.Second}
	res, err := probe.Get("http://" + ln.Addr().String() + "/healthz")
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	probe.CloseIdleConnections()

	locker, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer locker.Close(context.Background())
	tx, err := locker.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE workflows IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	type answer struct {
		status int
		body   string
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		req, err := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/flowhook.v1.WorkflowDesignService/ListWorkflows",
			strings.NewReader(`{"pageSize":5}`))
		if err != nil {
			answered <- answer{err: err}
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+cfg.BootstrapAdminKey)
		res, err := client.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		answered <- answer{status: res.StatusCode, body: string(b), err: err}
	}()

	// Poll until the request waits on the lock; if it was answered instead, say how. The polls
	// use a connection of their own, outside the locker's transaction, for which PostgreSQL may
	// keep one pg_stat_activity snapshot as long as it lasts (psql shows it does). The bound is
	// generous: under heavy load (other packages' tests, -race) the request once took longer
	// than 30 s to show; the failure lists what every session was doing.
	watcher, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer watcher.Close(context.Background())
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case got := <-answered:
			t.Fatalf("the request was answered before it reached the lock: %d %s %v", got.status, got.body, got.err)
		default:
		}
		var waiting int
		err := watcher.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`).Scan(&waiting)
		require.NoError(t, err)
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request never reached the lock; the database's other sessions: %s", sessions(t, watcher))
		}
		// Each poll is a round trip to PostgreSQL: the loop does not spin.
	}

	cancel() // SIGTERM
	select {
	case err := <-served:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	default:
	}
	require.NoError(t, tx.Rollback(context.Background()))

	got := <-answered
	require.NoError(t, got.err, "the request in flight was cut off")
	require.Equal(t, http.StatusOK, got.status, got.body)
	require.NoError(t, <-served)
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	require.Error(t, err, "nothing listens after shutdown")
}

// sessions describes the database's other sessions, for a failure message.
func sessions(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT coalesce(state, ''), coalesce(wait_event_type, ''), coalesce(wait_event, ''), left(query, 80)
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var state, waitType, wait, query string
		if err := rows.Scan(&state, &waitType, &wait, &query); err != nil {
			return err.Error()
		}
		out = append(out, fmt.Sprintf("[%s %s/%s %q]", state, waitType, wait, query))
	}
	return strings.Join(out, " ")
}

// TestDBMaxConnsFloor: the configuration refuses a connection bound the store would raise.
func TestDBMaxConnsFloor(t *testing.T) {
	require.Equal(t, int(store.MinMaxConns), config.MinDBMaxConns)
}
