package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/flowhook/flowhook/ent/migrate"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// migrateRetryFor is how long Migrate keeps trying a database that cannot take it now.
const migrateRetryFor = 30 * time.Second

// Migrate applies flowhook's versioned migrations and then River's. On PostgreSQL a session
// advisory lock serialises replicas that start at the same time. A database that cannot take
// the connection now (at its connection limit, starting or restarting: ErrUnavailable) is tried
// again for up to migrateRetryFor, since replicas and their database often start together.
// Each migration is a transaction, so one cut short is applied again whole.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	deadline := time.Now().Add(migrateRetryFor)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := db.migrate(ctx, log)
		if err == nil || !errors.Is(err, engine.ErrUnavailable) {
			return err
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%w; gave up after %s", withDetail(err), migrateRetryFor)
		}
		log.WarnContext(ctx, "the database cannot take the migrations now; trying again", "error", detail(err), "in", wait.String())
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (db *DB) migrate(ctx context.Context, log *slog.Logger) error {
	provider, err := db.migrations()
	if err != nil {
		return err
	}
	results, err := db.up(ctx, provider)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", translate(err))
	}
	for _, r := range results {
		log.InfoContext(ctx, "applied migration", "version", r.Source.Version, "path", r.Source.Path, "duration", r.Duration.String())
	}

	var res *rivermigrate.MigrateResult
	if db.Dialect == Postgres {
		res, err = migrateRiverPostgres(ctx, db)
	} else {
		var m *rivermigrate.Migrator[*sql.Tx]
		if m, err = rivermigrate.New(riversqlite.New(db.SQL), nil); err == nil {
			res, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		}
	}
	if err != nil {
		return fmt.Errorf("apply River migrations: %w", translate(err))
	}
	for _, v := range res.Versions {
		log.InfoContext(ctx, "applied River migration", "version", v.Version, "name", v.Name)
	}
	if db.Dialect == Postgres && len(results) > 0 {
		db.warmSides(ctx, log)
	}
	return nil
}

// up applies the provider's pending migrations. On SQLite it does so with foreign keys off: a
// migration that changes a table rebuilds it (create the new one, copy, drop the old one,
// rename), and with foreign keys enforced, dropping a table deletes the rows that refer to it
// ON DELETE CASCADE (a rebuilt groups table would take every membership with it) or fails on
// the rows of the tables that refer to it. The generated migrations say PRAGMA foreign_keys =
// off themselves, but inside the transaction goose runs each in, where SQLite ignores it; here
// it is set on the one connection outside any transaction, and the references are checked
// (PRAGMA foreign_key_check) before they are enforced again.
func (db *DB) up(ctx context.Context, provider *goose.Provider) ([]*goose.MigrationResult, error) {
	if db.Dialect != SQLite {
		return provider.Up(ctx)
	}
	if _, err := db.SQL.ExecContext(ctx, "PRAGMA foreign_keys = off"); err != nil {
		return nil, err
	}
	results, err := provider.Up(ctx)
	if err == nil {
		err = foreignKeyCheck(ctx, db.SQL)
	}
	if _, onErr := db.SQL.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = on"); onErr != nil && err == nil {
		err = onErr
	}
	return results, err
}

// foreignKeyCheck fails on the first row of an SQLite database whose reference finds nothing.
func foreignKeyCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			return err
		}
		return fmt.Errorf("after the migrations, a row of %s (rowid %d) refers to a row of %s that does not exist", table, rowid.Int64, parent)
	}
	return rows.Err()
}

// migrations is goose's provider of flowhook's migrations for the database.
func (db *DB) migrations() (*goose.Provider, error) {
	dir, err := fs.Sub(migrate.Files, string(db.Dialect))
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	gooseDialect := goose.DialectSQLite3
	if db.Dialect == Postgres {
		gooseDialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(gooseDialect, db.SQL, dir, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return provider, nil
}

// riverMigrationLock is the advisory-lock key that serialises River's migrations between replicas.
const riverMigrationLock = 0x666c6f77 // "flow"

func migrateRiverPostgres(ctx context.Context, db *DB) (*rivermigrate.MigrateResult, error) {
	m, err := rivermigrate.New(riverpgxv5.New(db.Pool), nil)
	if err != nil {
		return nil, err
	}
	// River runs each version in a transaction of its own (an enum value it adds cannot be used
	// in the transaction that adds it), so the lock is a session lock on a connection held aside.
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", riverMigrationLock); err != nil {
		return nil, err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", riverMigrationLock) //nolint:errcheck // also released when the session ends
	return m.Migrate(ctx, rivermigrate.DirectionUp, nil)
}
