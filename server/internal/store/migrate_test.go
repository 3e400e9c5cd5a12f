package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/testlog"
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

// TestActivitySeqMigration migrates a database that holds instances and their activities,
// written before instances counted their activities: every activity is still there (also
// through SQLite's rebuild of the table without its foreign key), each instance's counter is
// its newest activity's number, and the next activity follows it.
func TestActivitySeqMigration(t *testing.T) {
	t.Parallel()
	const before = 20261203093022 // before time_and_lifecycle rebuilt instances, and activity_seq
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			opts := store.Options{DataDir: t.TempDir()}
			if d == store.Postgres {
				opts = store.Options{DatabaseURL: dbtest.NewEmptyPostgres(t)}
			}
			db, err := store.Open(ctx, opts)
			require.NoError(t, err)
			t.Cleanup(func() { db.Close() })
			require.NoError(t, store.MigrateUpTo(ctx, db, before))

			p := func(i int) string { // placeholders: PostgreSQL numbers them
				if d == store.Postgres {
					return fmt.Sprintf("$%d", i)
				}
				return "?"
			}
			now := time.Now().UTC().Truncate(time.Millisecond)
			busy, idle := uuid.New(), uuid.New()
			for _, id := range []uuid.UUID{busy, idle} {
				_, err := db.SQL.ExecContext(ctx, fmt.Sprintf(`INSERT INTO instances (id, created_at, updated_at, workflow_id, version,
					workflow_name, state_key, status, form_data, started_by) VALUES (%s, %s, %s, %s, 1, 'w', 'START', 'ACTIVE', '{}', %s)`,
					p(1), p(2), p(3), p(4), p(5)), id, now, now, uuid.New(), uuid.New())
				require.NoError(t, err)
			}
			for seq := 1; seq <= 3; seq++ {
				_, err := db.SQL.ExecContext(ctx, fmt.Sprintf(`INSERT INTO activities (id, seq, kind, created_at, instance_id)
					VALUES (%s, %s, 'CREATED', %s, %s)`, p(1), p(2), p(3), p(4)), uuid.New(), seq, now, busy)
				require.NoError(t, err)
			}

			require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
			var acts int
			require.NoError(t, db.SQL.QueryRowContext(ctx, "SELECT count(*) FROM activities").Scan(&acts))
			require.Equal(t, 3, acts, "the migration kept every activity")
			seqOf := func(id uuid.UUID) int64 {
				var n int64
				require.NoError(t, db.SQL.QueryRowContext(ctx, "SELECT activity_seq FROM instances WHERE id = "+p(1), id).Scan(&n))
				return n
			}
			require.EqualValues(t, 3, seqOf(busy))
			require.EqualValues(t, 0, seqOf(idle))

			// The store numbers the next activity after the newest.
			st := store.New(db)
			in, err := st.GetInstance(ctx, busy.String())
			require.NoError(t, err)
			_, err = st.UpdateInstance(ctx, in, in.Revision, []engine.Activity{{Kind: engine.ActivityExternalProgress, CreatedAt: now, Message: "after"}}, engine.Effects{})
			require.NoError(t, err)
			acts4, _, err := st.ListActivity(ctx, busy.String(), engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts4, 4)
			require.EqualValues(t, 4, acts4[3].Seq)
			require.Equal(t, "after", acts4[3].Message)
			require.EqualValues(t, 4, seqOf(busy))
		})
	}
}

// TestMigrateWaitsForTheDatabase starts a replica while PostgreSQL refuses its connections
// with SQLSTATE 53300, as a server at max_connections does (here through the connection limit
// of a role made for the test, since one server's limit is every test's): Migrate keeps trying,
// says so in the log, and migrates once it is let in.
func TestMigrateWaitsForTheDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL := dbtest.NewEmptyPostgres(t)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	admin, err := pgx.Connect(ctx, dbtest.AdminURL())
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	inDB, err := pgx.Connect(ctx, dbURL) // the database, as the administrator
	require.NoError(t, err)
	t.Cleanup(func() { inDB.Close(context.Background()) })

	role := "flowhook_limited_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	_, err = admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN CONNECTION LIMIT 0")
	require.NoError(t, err)
	_, err = inDB.Exec(ctx, "GRANT ALL ON SCHEMA public TO "+role)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		_, err := inDB.Exec(ctx, "REASSIGN OWNED BY "+role+" TO CURRENT_USER; DROP OWNED BY "+role)
		require.NoError(t, err)
		_, err = admin.Exec(ctx, "DROP ROLE "+role)
		require.NoError(t, err)
	})

	u.User = url.User(role)
	db, err := store.Open(ctx, store.Options{DatabaseURL: u.String(), MaxConns: 3})
	require.NoError(t, err)
	defer db.Close()
	var logs testlog.Buffer // Migrate's goroutine writes it while the test reads
	done := make(chan error, 1)
	go func() { done <- db.Migrate(ctx, slog.New(slog.NewTextHandler(&logs, nil))) }()

	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "trying again") }, 20*time.Second, 10*time.Millisecond,
		"Migrate did not say it waits for the database")
	require.Contains(t, logs.String(), "too many connections", "the log names the server's reason, not only \"unavailable\"")
	select {
	case err := <-done:
		t.Fatalf("Migrate gave up while the database refused it: %v", err)
	default:
	}
	_, err = admin.Exec(ctx, "ALTER ROLE "+role+" CONNECTION LIMIT -1")
	require.NoError(t, err)
	require.NoError(t, <-done)
	var versions int
	require.NoError(t, inDB.QueryRow(ctx, "SELECT count(*) FROM goose_db_version").Scan(&versions))
	require.Greater(t, versions, 1, "the migrations were applied")
}

// TestMigrateFailsAtOnceOnAWrongDatabase: a database that does not exist, a role that does not
// exist and a host name that does not resolve do not go away by waiting. Migrate does not retry
// them for half a minute behind "the database is unavailable": it fails on the first try,
// in the server's (or resolver's) words, and without the URL's password.
func TestMigrateFailsAtOnceOnAWrongDatabase(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base, err := url.Parse(dbtest.AdminURL())
	require.NoError(t, err)
	noDB := *base
	noDB.Path = "/flowhook_no_such_database_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	noRole := *base
	noRole.User = url.UserPassword("flowhook_no_such_role", "s3cr3t-pw")
	noHost := *base
	noHost.Host = "no-such-host.invalid:5432"
	for name, tc := range map[string]struct {
		url  url.URL
		said string
	}{
		"database": {noDB, "does not exist"},
		"role":     {noRole, "does not exist"},
		"host":     {noHost, "no-such-host.invalid"},
	} {
		t.Run(name, func(t *testing.T) {
			db, err := store.Open(ctx, store.Options{DatabaseURL: tc.url.String(), MaxConns: 3})
			require.NoError(t, err)
			defer db.Close()
			var logs testlog.Buffer
			err = db.Migrate(ctx, slog.New(slog.NewTextHandler(&logs, nil)))
			require.Error(t, err)
			require.NotErrorIs(t, err, engine.ErrUnavailable)
			require.NotContains(t, logs.String(), "trying again")
			require.Contains(t, err.Error(), tc.said)
			require.NotContains(t, err.Error(), "s3cr3t")
		})
	}
}

// TestSQLiteRebuildKeepsReferringRows: a future migration that changes the groups table is,
// on SQLite, a rebuild (create a new table, copy, drop the old one, rename) as the generator
// writes it. With foreign keys enforced, the drop would delete every membership (user_groups
// refers to groups ON DELETE CASCADE). Migrations run with them off and checked after, so the
// memberships are still there, and foreign keys are enforced again afterwards.
func TestSQLiteRebuildKeepsReferringRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: t.TempDir()})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
	st := store.New(db)
	u, err := st.CreateUser(ctx, engine.User{Email: "dora@example.com", DisplayName: "Dora", Roles: []engine.Role{engine.RoleUser}})
	require.NoError(t, err)
	g, err := st.CreateGroup(ctx, engine.Group{Name: "legal"})
	require.NoError(t, err)
	_, err = st.SetGroupMember(ctx, g.ID, u.ID, true)
	require.NoError(t, err)

	// The rebuild, from the table's own definition and indexes, in the generator's form.
	var create string
	require.NoError(t, db.SQL.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'groups'").Scan(&create))
	rows, err := db.SQL.QueryContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'groups' AND sql IS NOT NULL")
	require.NoError(t, err)
	var indexes []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		indexes = append(indexes, s+";")
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	newTable := strings.Replace(create, "`groups`", "`new_groups`", 1)
	if newTable == create {
		newTable = strings.Replace(create, "groups", "new_groups", 1)
	}
	rebuild := "-- +goose Up\nPRAGMA foreign_keys = off;\n" + newTable + ";\n" +
		"INSERT INTO `new_groups` SELECT * FROM `groups`;\nDROP TABLE `groups`;\nALTER TABLE `new_groups` RENAME TO `groups`;\n" +
		strings.Join(indexes, "\n") + "\nPRAGMA foreign_keys = on;\n"
	require.NoError(t, store.MigrateWithExtra(ctx, db, map[string]string{"29991231000000_rebuild_groups.sql": rebuild}))

	got, err := st.GetGroup(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, []string{u.ID}, got.MemberIDs, "the membership survived the rebuild of groups")
	var on int
	require.NoError(t, db.SQL.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&on))
	require.Equal(t, 1, on, "foreign keys are enforced again")
}
