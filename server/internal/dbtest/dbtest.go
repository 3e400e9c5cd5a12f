// Package dbtest gives tests a real, isolated database: a fresh PostgreSQL database cloned from
// a migrated template (TEST_DATABASE_URL names the server; the local trust-auth server by
// default), or a fresh embedded SQLite file. A database that cannot be reached fails the test;
// it never skips it.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flowhook/flowhook/ent/migrate"
	"github.com/flowhook/flowhook/server/internal/store"
)

// DefaultAdminURL is used when TEST_DATABASE_URL is unset: the machine's local server.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Dialects are the databases every storage-facing test runs on.
var Dialects = []store.Dialect{store.Postgres, store.SQLite}

// AdminURL is the administrative URL of the PostgreSQL server tests create databases on.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// Options returns store options for a fresh, migrated database of the dialect.
func Options(t testing.TB, d store.Dialect) store.Options {
	t.Helper()
	if d == store.Postgres {
		return store.Options{DatabaseURL: NewPostgres(t)}
	}
	return store.Options{DataDir: NewSQLite(t)}
}

var (
	sqliteOnce     sync.Once
	sqliteTemplate []byte
	sqliteErr      error
)

// NewSQLite returns a fresh data directory holding a copy of a migrated embedded database, the
// way NewPostgres clones a migrated template: migrating a new SQLite file costs most of a
// second under the race detector, copying it a millisecond. The template is migrated once per
// test binary, then closed (which checkpoints its WAL into the file). Nothing else of a data
// directory (the embedded mode's secret key) is copied: each test makes its own.
func NewSQLite(t testing.TB) string {
	t.Helper()
	sqliteOnce.Do(func() { sqliteTemplate, sqliteErr = migratedSQLite() })
	if sqliteErr != nil {
		t.Fatalf("dbtest: the SQLite template: %v", sqliteErr)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, store.SQLiteFile), sqliteTemplate, 0o600); err != nil {
		t.Fatalf("dbtest: copy the SQLite template: %v", err)
	}
	return dir
}

// migratedSQLite migrates an embedded database in a temporary directory and returns its file.
func migratedSQLite() ([]byte, error) {
	dir, err := os.MkdirTemp("", "flowhook-dbtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, store.SQLiteFile+"-wal")); err == nil {
		return nil, errors.New("the template's WAL was not checkpointed on close")
	}
	return os.ReadFile(filepath.Join(dir, store.SQLiteFile))
}

// Open returns a fresh, migrated database of the dialect, closed when the test ends.
func Open(t testing.TB, d store.Dialect) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, Options(t, d))
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("dbtest: migrate %s: %v", d, err)
	}
	return db
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// NewPostgres creates a database cloned from the migrated template and returns its URL. The
// database is dropped when the test ends.
func NewPostgres(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(ctx) })
	if templateErr != nil {
		t.Fatalf("dbtest: PostgreSQL at TEST_DATABASE_URL (default %s) is required: %v", DefaultAdminURL, templateErr)
	}
	return createDatabase(t, "TEMPLATE "+templateName)
}

// NewEmptyPostgres creates an empty database (no migrations) and returns its URL. It is
// dropped when the test ends.
func NewEmptyPostgres(t testing.TB) string {
	t.Helper()
	return createDatabase(t, "")
}

// connectAdmin connects to the admin URL, waiting while the server has no connection to spare
// (SQLSTATE 53300, "too many clients already": the test binaries go test runs side by side
// each hold pools on the same server, and their peaks may meet): a test then waits for a slot
// rather than fail on the machine's max_connections.
func connectAdmin(ctx context.Context) (*pgx.Conn, error) {
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		conn, err := pgx.Connect(ctx, AdminURL())
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || pe.Code != "53300" {
			return conn, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

func createDatabase(t testing.TB, clause string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := connectAdmin(ctx)
	if err != nil {
		t.Fatalf("dbtest: PostgreSQL at TEST_DATABASE_URL (default %s) is required: %v", DefaultAdminURL, err)
	}
	defer admin.Close(context.Background())
	name := "flowhook_test_" + randomHex(8)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" "+clause); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := connectAdmin(ctx)
		if err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
		}
	})
	return withDatabase(t, name)
}

func withDatabase(t testing.TB, name string) string {
	u, err := urlFor(name)
	if err != nil {
		t.Fatalf("dbtest: TEST_DATABASE_URL: %v", err)
	}
	return u
}

// urlFor is the admin URL with its database replaced by name. (pgx's ConnConfig.ConnString
// returns the string it was parsed from, so the URL is rewritten, not the config.)
func urlFor(name string) (string, error) {
	u, err := url.Parse(AdminURL())
	if err != nil {
		return "", err
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", fmt.Errorf("TEST_DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// ensureTemplate creates, once per schema, a migrated template database named after a hash of
// the migrations, so that every test database is a cheap copy. An advisory lock serialises the
// test binaries that `go test ./...` runs side by side.
func ensureTemplate(ctx context.Context) (string, error) {
	hash, err := schemaHash()
	if err != nil {
		return "", err
	}
	name := "flowhook_tmpl_" + hash
	admin, err := connectAdmin(ctx)
	if err != nil {
		return "", err
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(7041)"); err != nil {
		return "", err
	}
	defer admin.Exec(context.Background(), "SELECT pg_advisory_unlock(7041)") //nolint:errcheck // released on close too
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	url, err := urlFor(building)
	if err != nil {
		return "", err
	}
	db, err := store.Open(ctx, store.Options{DatabaseURL: url, MaxConns: 2})
	if err != nil {
		return "", err
	}
	if err := db.Migrate(ctx, slog.New(slog.DiscardHandler)); err != nil {
		db.Close()
		return "", err
	}
	db.Close()
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		return "", err
	}
	return name, nil
}

// schemaHash identifies the schema the migrations produce: their files plus River's.
func schemaHash() (string, error) {
	h := sha256.New()
	var paths []string
	err := fs.WalkDir(migrate.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	for _, p := range paths {
		f, err := migrate.Files.Open(p)
		if err != nil {
			return "", err
		}
		io.WriteString(h, p)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", err
		}
	}
	// River's migrations are part of the schema too.
	io.WriteString(h, riverVersion())
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// riverVersion is the version of River linked in, whose migrations the template carries.
func riverVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, m := range info.Deps {
			if m.Path == "github.com/riverqueue/river" {
				return m.Version
			}
		}
	}
	return "unknown"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
