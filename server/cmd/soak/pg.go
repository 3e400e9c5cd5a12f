package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgres is a PostgreSQL instance of the soak's own, in a temporary directory: the soak
// stops it with -m immediate (a crash, as far as PostgreSQL can tell) and starts it again,
// which it must not do to a cluster other programs share.
type postgres struct {
	bin  string // the directory of initdb, pg_ctl, pg_isready
	dir  string // holds data/, the socket and the log
	port int
	// asUser runs the tools as this user (initdb refuses root): "" when the soak is not root.
	asUser string
}

// pgBinDir finds the machine's PostgreSQL binaries: dir when given, else the newest
// /usr/lib/postgresql/*/bin, else the directory of pg_ctl on PATH.
func pgBinDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) < pgVersion(dirs[j]) })
	if len(dirs) > 0 {
		return dirs[len(dirs)-1], nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("no PostgreSQL binaries: set -pg-bin to the directory of initdb and pg_ctl")
}

func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// startPostgres initialises a cluster in a new temporary directory and starts it on a free
// loopback port. When it fails it leaves nothing behind: the server is stopped if it runs
// (pg_ctl start may have started it and then failed, or been killed with ctx: the postmaster
// is not pg_ctl's child and goes on), and the directory is removed, the end of the server's log
// going into the error.
func startPostgres(ctx context.Context, binDir string) (_ *postgres, err error) {
	dir, err := os.MkdirTemp("", "soak-pg-")
	if err != nil {
		return nil, err
	}
	pg := &postgres{bin: binDir, dir: dir}
	defer func() {
		if err != nil {
			err = pg.discard(err)
		}
	}()
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: the cluster belongs to the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user to own the cluster: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		pg.asUser = "postgres"
	}
	if pg.port, err = freePort(); err != nil {
		return nil, err
	}
	if out, err := pg.run(ctx, "initdb", "-D", pg.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := pg.start(ctx); err != nil {
		return nil, err
	}
	return pg, nil
}

func (pg *postgres) data() string { return filepath.Join(pg.dir, "data") }

func (pg *postgres) log() string { return filepath.Join(pg.dir, "postgres.log") }

// options are the server's: its port, its socket in dir, loopback only. fsync is off: the
// soak crashes PostgreSQL's processes, never the machine, and the page cache survives a
// process crash.
func (pg *postgres) options() string {
	return fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off", pg.port, pg.dir)
}

// keptNote says where a kept cluster is and how to start, query and stop it.
func (pg *postgres) keptNote(db string) string {
	tool := func(name string) string {
		if pg.asUser != "" {
			return "runuser -u " + pg.asUser + " -- " + filepath.Join(pg.bin, name)
		}
		return filepath.Join(pg.bin, name)
	}
	query := "(none: the soak failed before creating it)"
	if db != "" {
		query = fmt.Sprintf("psql '%s'", pg.url(db))
	}
	return fmt.Sprintf(`soak: PostgreSQL kept (stopped) in %s, port %d, database %s
  start: %s -D %s -l %s -w -o '%s' start
  query: %s
  stop:  %s -D %s -w stop   (then rm -r %s)
`, pg.dir, pg.port, cmp.Or(db, "none"), tool("pg_ctl"), pg.data(), pg.log(), pg.options(), query, tool("pg_ctl"), pg.data(), pg.dir)
}

// run runs one of PostgreSQL's tools, as the cluster's owner.
func (pg *postgres) run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	name, all := filepath.Join(pg.bin, tool), args
	if pg.asUser != "" {
		name, all = "runuser", append([]string{"-u", pg.asUser, "--", filepath.Join(pg.bin, tool)}, args...)
	}
	cmd := exec.CommandContext(ctx, name, all...)
	cmd.Dir = pg.dir
	return cmd.CombinedOutput()
}

// start starts the server and returns once it accepts connections (pg_ctl -w, then
// pg_isready).
func (pg *postgres) start(ctx context.Context) error {
	if out, err := pg.run(ctx, "pg_ctl", "-D", pg.data(), "-l", pg.log(), "-w", "-t", "60", "-o", pg.options(), "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := pg.run(ctx, "pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.port))
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("pg_isready: PostgreSQL does not accept connections: %w", err)
		}
		time.Sleep(50 * time.Millisecond) // pg_ctl -w returned already: this is a short poll
	}
}

// crash stops the server as a crash would (-m immediate: no checkpoint, every backend ends
// at once); start recovers it.
func (pg *postgres) crash(ctx context.Context) error {
	if out, err := pg.run(ctx, "pg_ctl", "-D", pg.data(), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// close stops the server and removes its directory.
func (pg *postgres) close() {
	pg.stop("fast")
	_ = os.RemoveAll(pg.dir)
}

// discard is close for a server that failed to start: stopped at once (-m immediate) if it
// runs, its directory removed, and err returned with the end of its log, which goes with the
// directory. Stopping cannot see a postmaster that has not written its postmaster.pid yet
// (pg_ctl killed right after starting it): that one shuts itself down once it finds the
// file gone (PostgreSQL checks its lock file every minute).
func (pg *postgres) discard(err error) error {
	if b, rerr := os.ReadFile(pg.log()); rerr == nil && len(b) > 0 {
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		err = fmt.Errorf("%w\npostgres.log ends:\n%s", err, strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
	pg.stop("immediate")
	_ = os.RemoveAll(pg.dir)
	return err
}

// stop stops the server, if it runs, in mode (fast, immediate) and waits for it: with a
// context of its own, for a soak that ends because its context was cancelled (Ctrl-C).
func (pg *postgres) stop(mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = pg.run(ctx, "pg_ctl", "-D", pg.data(), "-m", mode, "-w", "stop")
}

// url is the URL of a database of this server.
func (pg *postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, db)
}

// createDatabase creates soak_<random> and returns its name.
func createDatabase(ctx context.Context, serverURL func(db string) string) (string, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "soak_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, serverURL("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	return name, err
}

// dropDatabase drops the soak's database, ending what still uses it.
func dropDatabase(ctx context.Context, serverURL func(db string) string, name string) error {
	conn, err := pgx.Connect(ctx, serverURL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	return err
}
