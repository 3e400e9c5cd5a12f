package store_test

import (
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/store"
)

// moduleRoot is where the committed migration directories are, seen from this package.
const moduleRoot = "../../.."

// TestMigrationsMatchSchema proves the committed migrations produce exactly the ent schema: a
// diff against them, replayed on an empty database, has nothing to write.
func TestMigrationsMatchSchema(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			src := filepath.Join(moduleRoot, store.MigrationDir(d))
			dir := t.TempDir()
			before := copyDir(t, src, dir)
			require.NotEmpty(t, before)

			var dev *sql.DB
			if d == store.Postgres {
				cfg, err := pgx.ParseConfig(dbtest.NewEmptyPostgres(t))
				require.NoError(t, err)
				dev = stdlib.OpenDB(*cfg)
			} else {
				var err error
				dev, err = sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "dev.db")+"?_pragma=foreign_keys(1)")
				require.NoError(t, err)
				dev.SetMaxOpenConns(1)
			}
			t.Cleanup(func() { dev.Close() })

			require.NoError(t, store.Diff(context.Background(), dev, d, dir, "check"))
			after, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range after {
				names = append(names, e.Name())
			}
			require.Equal(t, before, names, "ent/schema changed without a migration: run `make migration NAME=…`")
		})
	}
}

// TestMigrateConcurrently starts several replicas on one empty PostgreSQL database at once:
// every one of them must come up, and applying again changes nothing.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := dbtest.NewEmptyPostgres(t)
	ctx := context.Background()
	const replicas = 4
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			db, err := store.Open(ctx, store.Options{DatabaseURL: url, MaxConns: 3})
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			errs[i] = db.Migrate(ctx, slog.New(slog.DiscardHandler))
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}

	db, err := store.Open(ctx, store.Options{DatabaseURL: url})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
	var tables int
	require.NoError(t, db.SQL.QueryRowContext(ctx,
		"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('workflows', 'workflow_versions', 'river_job', 'goose_db_version')").Scan(&tables))
	require.Equal(t, 4, tables)
}

func TestOpenEmbeddedCreatesDataDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	db, err := store.Open(context.Background(), store.Options{DataDir: dir})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Migrate(context.Background(), slog.New(slog.DiscardHandler)))
	require.NoError(t, db.Ping(context.Background()))
	require.FileExists(t, filepath.Join(dir, store.SQLiteFile))
	// Opening again finds everything applied.
	require.NoError(t, db.Migrate(context.Background(), slog.New(slog.DiscardHandler)))
}

func copyDir(t *testing.T, src, dst string) []string {
	t.Helper()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600))
		names = append(names, e.Name())
	}
	return names
}
