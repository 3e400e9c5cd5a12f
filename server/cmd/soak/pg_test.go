package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// pgSandbox is a temporary directory (TMPDIR for the test, where startPostgres makes its
// cluster's) and a directory of PostgreSQL's tools, the machine's but those a test replaces
// with a script. Both are readable by the postgres user the soak runs the tools as when root.
type pgSandbox struct {
	tmp, bin string
}

func setupPG(t *testing.T, scripts map[string]string) pgSandbox {
	t.Helper()
	tools, err := pgBinDir("")
	require.NoError(t, err)
	root, err := os.MkdirTemp("", "soak-pg-test-")
	require.NoError(t, err)
	s := pgSandbox{tmp: filepath.Join(root, "tmp"), bin: filepath.Join(root, "bin")}
	t.Cleanup(func() {
		// A server the code under test left running (what this test looks for) is stopped.
		for _, data := range postmastersUnder(t, root) {
			_, _ = (&postgres{bin: tools, dir: filepath.Dir(data), asUser: asPostgres()}).run(context.Background(), "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
		}
		_ = os.RemoveAll(root)
	})
	for _, d := range []string{root, s.tmp, s.bin} {
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.Chmod(d, 0o755))
	}
	for _, tool := range []string{"initdb", "pg_ctl", "pg_isready"} {
		path := filepath.Join(s.bin, tool)
		if script, ok := scripts[tool]; ok {
			script = strings.ReplaceAll(script, "$REAL", filepath.Join(tools, tool))
			require.NoError(t, os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755))
			continue
		}
		require.NoError(t, os.Symlink(filepath.Join(tools, tool), path))
	}
	t.Setenv("TMPDIR", s.tmp)
	return s
}

func asPostgres() string {
	if os.Geteuid() == 0 {
		return "postgres"
	}
	return ""
}

// postmastersUnder lists the data directories under root that a running postgres process
// serves (its -D, from /proc).
func postmastersUnder(t *testing.T, root string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	require.NoError(t, err)
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // ended meanwhile
		}
		args := strings.Split(string(b), "\x00")
		for i, a := range args {
			if a == "-D" && i+1 < len(args) && strings.HasPrefix(args[i+1], root) && filepath.Base(args[0]) == "postgres" {
				out = append(out, args[i+1])
			}
		}
	}
	return out
}

// TestStartPostgresLeavesNothingOnFailure: a start that fails, before or after the server
// runs, stops the server and removes the cluster's directory.
func TestStartPostgresLeavesNothingOnFailure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		scripts map[string]string
		err     string
	}{
		{"initdb fails", map[string]string{"initdb": `echo "initdb: no" >&2; exit 1`}, "initdb: exit status 1"},
		// pg_ctl starts the server, then fails (as when Ctrl-C kills it while it waits).
		{"pg_ctl start fails with the server running", map[string]string{"pg_ctl": `"$REAL" "$@" || exit
for a; do last=$a; done
if [ "$last" = start ]; then echo "pg_ctl: failing after the start" >&2; exit 1; fi`}, "pg_ctl start: exit status 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := setupPG(t, tc.scripts)
			pg, err := startPostgres(context.Background(), s.bin)
			require.ErrorContains(t, err, tc.err)
			require.Empty(t, postmastersUnder(t, filepath.Dir(s.tmp)), "no server left running")
			left, err := os.ReadDir(s.tmp)
			require.NoError(t, err)
			require.Empty(t, left, "no directory left")
			require.Nil(t, pg)
		})
	}
}

// TestFailedRunKeepsTheCluster: a soak that fails keeps its cluster and its database, the
// server stopped, and says where they are and how to start the server.
func TestFailedRunKeepsTheCluster(t *testing.T) {
	s := setupPG(t, nil)
	// Fakes that print where they listen and run until stopped (had they ended at once, the
	// soak could see them end before it read the line), and a flowhook that exits at once: the
	// soak fails starting its first replica, once PostgreSQL and its database are up.
	fakes, flowhook := filepath.Join(s.bin, "fakes"), filepath.Join(s.bin, "flowhook")
	require.NoError(t, os.WriteFile(fakes, []byte("#!/bin/sh\necho '{\"control\": \"http://127.0.0.1:9\"}'\nexec tail -f /dev/null\n"), 0o755))
	require.NoError(t, os.WriteFile(flowhook, []byte("#!/bin/sh\nexit 1\n"), 0o755))
	cfg := defaults()
	cfg.PGBin, cfg.FakesBin, cfg.FlowhookBin = s.bin, fakes, flowhook
	var out strings.Builder
	_, err := run(context.Background(), cfg, &out)
	t.Log("\n" + out.String())
	require.ErrorContains(t, err, "replica 0")

	dirs, err := filepath.Glob(filepath.Join(s.tmp, "soak-pg-*"))
	require.NoError(t, err)
	require.Len(t, dirs, 1, "the cluster's directory is kept; the output:\n%s", out.String())
	require.Empty(t, postmastersUnder(t, filepath.Dir(s.tmp)), "its server is stopped")
	require.Contains(t, out.String(), "PostgreSQL kept (stopped) in "+dirs[0])
	require.Contains(t, out.String(), filepath.Join(dirs[0], "data")+" -l ")

	// It starts again, with the soak's database in it.
	pg := &postgres{bin: s.bin, dir: dirs[0], asUser: asPostgres()}
	pg.port, err = freePort()
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, pg.start(ctx))
	defer pg.close()
	conn, err := pgx.Connect(ctx, pg.url("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var db string
	require.NoError(t, conn.QueryRow(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'soak\_%'`).Scan(&db))
	require.Contains(t, out.String(), "database "+db)
}
