package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"ariga.io/atlas/sql/sqltool"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	"github.com/flowhook/flowhook/ent/migrate"
)

// MigrationDir is where the versioned migrations of a dialect live, relative to the module root.
func MigrationDir(d Dialect) string { return "ent/migrate/" + string(d) }

// diffMu serialises Diff: ent's planner writes into the package-level migrate.Tables it is
// given (symbols, keys, index back-references), so two diffs at once race (the race detector
// caught the PostgreSQL and SQLite checks of TestMigrationsMatchSchema doing so).
var diffMu sync.Mutex

// Diff writes into dir (a goose migration directory) a migration called name holding whatever
// the ent schema has that the directory's migrations do not produce; it writes nothing when they
// match. dev must be an empty database of the dialect: the directory is replayed on it.
func Diff(ctx context.Context, dev *sql.DB, d Dialect, dir, name string) error {
	gooseDir, err := sqltool.NewGooseDir(dir)
	if err != nil {
		return fmt.Errorf("migration directory %s: %w", dir, err)
	}
	entDialect := dialect.Postgres
	if d == SQLite {
		entDialect = dialect.SQLite
	}
	m, err := schema.NewMigrate(entsql.OpenDB(entDialect, dev),
		schema.WithDir(gooseDir),
		schema.WithFormatter(sqltool.GooseFormatter),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(entDialect),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
	if err != nil {
		return fmt.Errorf("migration planner: %w", err)
	}
	diffMu.Lock()
	defer diffMu.Unlock()
	if err := m.NamedDiff(ctx, name, migrate.Tables...); err != nil {
		return fmt.Errorf("diff %s: %w", d, err)
	}
	return nil
}
