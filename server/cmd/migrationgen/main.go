// Command migrationgen writes the versioned migrations that bring the committed migration
// directories (ent/migrate/postgres, ent/migrate/sqlite) up to the ent schema. Run it from the
// module root after changing ent/schema: `make migration NAME=add_something`.
//
// PostgreSQL needs a server to replay the directory on: it creates, uses and drops a scratch
// database there (-postgres-url, default the local trust-auth server). SQLite uses memory.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/flowhook/flowhook/server/internal/store"
)

func main() {
	name := flag.String("name", "", "name of the migration, e.g. add_instances (required)")
	pgURL := flag.String("postgres-url", envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"an administrative PostgreSQL URL; a scratch database is created there")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *name, *pgURL); err != nil {
		fmt.Fprintln(os.Stderr, "migrationgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name, pgURL string) error {
	if name == "" {
		return errors.New("-name is required")
	}
	if err := diffPostgres(ctx, name, pgURL); err != nil {
		return err
	}
	lite, err := sql.Open("sqlite", "file:dev?mode=memory&_pragma=foreign_keys(1)")
	if err != nil {
		return err
	}
	defer lite.Close()
	lite.SetMaxOpenConns(1)
	return store.Diff(ctx, lite, store.SQLite, store.MigrationDir(store.SQLite), name)
}

func diffPostgres(ctx context.Context, name, adminURL string) error {
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer admin.Close(context.Background())
	scratch := fmt.Sprintf("flowhook_migrationgen_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+scratch); err != nil {
		return fmt.Errorf("create scratch database: %w", err)
	}
	defer admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+scratch+" WITH (FORCE)") //nolint:errcheck // best effort

	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return err
	}
	cfg.Database = scratch
	dev := stdlib.OpenDB(*cfg)
	defer dev.Close()
	return store.Diff(ctx, dev, store.Postgres, store.MigrationDir(store.Postgres), name)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
