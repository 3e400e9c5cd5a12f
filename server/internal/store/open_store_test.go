package store_test

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestPostgresSessionsAreReady checks what a new PostgreSQL connection is given before a
// request uses it: the side pools' connections are open at once and kept, database/sql over
// them never holds a connection that a statement through pgx waits for, and the warm-up
// statement runs against the migrated schema (a table renamed would make it a silent no-op).
func TestPostgresSessionsAreReady(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, store.Postgres)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Every table the warm-up names exists: each statement runs without error and finds nothing.
	require.Len(t, store.WarmSQL, 5)
	for _, q := range store.WarmSQL {
		rows, err := db.Pool.Query(ctx, q, uuid.Nil)
		require.NoError(t, err, q)
		require.False(t, rows.Next(), q)
		rows.Close()
		require.NoError(t, rows.Err(), q)
	}

	writes, batches, writesPool, batchesPool := store.SidePools(db)
	// The side pools open all their connections without waiting for a request.
	require.Eventually(t, func() bool {
		return writesPool.Stat().TotalConns() == writesPool.Config().MaxConns &&
			batchesPool.Stat().TotalConns() == batchesPool.Config().MaxConns
	}, 10*time.Second, 10*time.Millisecond)

	// Four times as many concurrent statements as connections all complete, half through
	// database/sql (a transition's transaction) and half through pgx itself (a statement on
	// its own), and database/sql holds no connection afterwards: one it kept idle would be
	// one that pgx's statements wait for.
	for _, side := range []struct {
		name string
		db   *sql.DB
		pool *pgxpool.Pool
	}{{"writes", writes, writesPool}, {"batches", batches, batchesPool}} {
		conns := int(side.pool.Config().MaxConns)
		var wg sync.WaitGroup
		errs := make(chan error, 4*conns)
		for i := range 4 * conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if i%2 == 0 {
					_, err = side.db.ExecContext(ctx, "SELECT pg_sleep(0.005)")
				} else {
					_, err = side.pool.Exec(ctx, "SELECT pg_sleep(0.005)")
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, side.name)
		}
		st := side.db.Stats()
		require.Equal(t, conns, st.MaxOpenConnections, side.name)
		require.Zero(t, st.OpenConnections, "%s: database/sql keeps no connection from the pool", side.name)
		require.Equal(t, int32(conns), side.pool.Stat().TotalConns(), "%s: the pool keeps all of them", side.name)
	}
}

// TestSidePoolsAreWarmedAfterMigrating: the side pools open their connections before the
// migrations make the tables their warm-up plans, so migrating warms each of them again.
func TestSidePoolsAreWarmedAfterMigrating(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := store.Open(ctx, store.Options{DatabaseURL: dbtest.NewEmptyPostgres(t), MaxConns: 2})
	require.NoError(t, err)
	defer db.Close()
	writes, batches, writesPool, batchesPool := store.SidePools(db)
	// Opened on an empty database: their warm-up found no tables.
	require.Eventually(t, func() bool {
		return writesPool.Stat().TotalConns() == writesPool.Config().MaxConns &&
			batchesPool.Stat().TotalConns() == batchesPool.Config().MaxConns
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))

	for name, side := range map[string]*sql.DB{"writes": writes, "batches": batches} {
		n := side.Stats().MaxOpenConnections
		conns := make([]*sql.Conn, n)
		for i := range conns {
			c, err := side.Conn(ctx)
			require.NoError(t, err, name)
			defer c.Close()
			conns[i] = c
		}
		for _, c := range conns {
			// The warm-up ran on this connection once its tables existed: pgx prepared it (a
			// statement that failed is not kept).
			var prepared int
			require.NoError(t, c.QueryRowContext(ctx, "SELECT count(*) FROM pg_prepared_statements WHERE statement = ANY($1)", store.WarmSQL).Scan(&prepared))
			require.Equal(t, len(store.WarmSQL), prepared, "%s: a connection was not warmed", name)
		}
	}
}

// TestMaxConnsBoundsEveryPool: Options.MaxConns bounds what a DB opens to PostgreSQL, its
// main pool and its side pools together, as PostgreSQL counts them.
func TestMaxConnsBoundsEveryPool(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := dbtest.NewEmptyPostgres(t)
	const total = 6
	db, err := store.Open(ctx, store.Options{DatabaseURL: url, MaxConns: total})
	require.NoError(t, err)
	defer db.Close()
	_, _, writesPool, batchesPool := store.SidePools(db)
	require.Equal(t, int32(total), db.Pool.Config().MaxConns+writesPool.Config().MaxConns+batchesPool.Config().MaxConns)

	// Every connection of the main pool held (the side pools open theirs at once), and one more
	// asked for in vain.
	held := make([]*pgxpool.Conn, db.Pool.Config().MaxConns)
	for i := range held {
		c, err := db.Pool.Acquire(ctx)
		require.NoError(t, err)
		defer c.Release()
		held[i] = c
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	_, err = db.Pool.Acquire(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	var name string
	require.NoError(t, held[0].QueryRow(ctx, "SELECT current_database()").Scan(&name))
	require.Eventually(t, func() bool {
		var n int
		err := held[0].QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name).Scan(&n)
		return err == nil && n == total
	}, 10*time.Second, 10*time.Millisecond, "PostgreSQL does not count %d connections to the database", total)
}

// TestSQLiteDataDirWithURICharacters: a data directory whose name holds characters a file: URI
// gives a meaning ('#' cuts it, '%' escapes, '?' starts the parameters) keeps its database in
// that directory, beside secret.key, and the database is durable at each commit
// (synchronous FULL: a webhook answered 2xx survives a power cut).
func TestSQLiteDataDirWithURICharacters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	parent := t.TempDir()
	for _, name := range []string{"a#b", "c%41d", "e?f=g"} {
		dir := filepath.Join(parent, name)
		db, err := store.Open(ctx, store.Options{DataDir: dir})
		require.NoError(t, err, name)
		require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)), name)
		var sync int
		require.NoError(t, db.SQL.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync))
		require.Equal(t, 2, sync, "synchronous FULL")
		require.NoError(t, db.Close())
		_, err = os.Stat(filepath.Join(dir, store.SQLiteFile))
		require.NoError(t, err, "the database is in %s", name)
	}
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"a#b", "c%41d", "e?f=g"}, names, "nothing was made beside them")
}
