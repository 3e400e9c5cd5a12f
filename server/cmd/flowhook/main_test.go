package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	flowhookv1 "github.com/flowhook/flowhook/gen/flowhook/v1"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

func TestRunCommands(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	cases := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stdout   string
		stderr   string
		noStderr string
	}{
		{name: "no command", code: 2, stderr: "usage: flowhook"},
		{name: "unknown command", args: []string{"launch"}, code: 2, stderr: `unknown command "launch"`},
		{name: "version", args: []string{"version"}, code: 0, stdout: "flowhook dev (commit "},
		{name: "version with arguments", args: []string{"version", "now"}, code: 1, stderr: "unexpected arguments: now"},
		{name: "help", args: []string{"help"}, code: 0, stdout: "commands:"},
		{name: "bad config", args: []string{"serve", "-addr", "nowhere"}, code: 1, stderr: `addr "nowhere": want host:port`},
		{name: "bad dev config", args: []string{"dev", "-log-format", "xml"}, code: 1, stderr: `log format "xml"`},
		{name: "dev has no database flag", args: []string{"dev", "-database-url", "postgres://x@y/z"}, code: 1,
			stderr: "flag provided but not defined: -database-url"},
		{name: "bad sandbox variable", args: []string{"serve"}, env: map[string]string{"FLOWHOOK_SANDBOX": "maybe"}, code: 1,
			stderr: `FLOWHOOK_SANDBOX: "maybe" is not true or false`},
		{name: "bad database url, password hidden", args: []string{"migrate"},
			env: map[string]string{"FLOWHOOK_DATABASE_URL": "mysql://u:sekret@h/db"}, code: 1, stderr: "not supported", noStderr: "sekret"},
		{name: "migrate embedded", args: []string{"migrate", "-data-dir", filepath.Join(dataDir, "db")}, code: 0, stderr: "database is up to date"},
		{name: "sandbox without words", args: []string{"sandbox"}, code: 1, stderr: "want 'list' or an action and an external id"},
		{name: "sandbox with too many words", args: []string{"sandbox", "complete", "a", "b"}, code: 1, stderr: `got "complete a b"`},
		{name: "sandbox list with an id", args: []string{"sandbox", "list", "extra"}, code: 1,
			stderr: `sandbox: list takes no external id, got "list extra"`, noStderr: "at the sandbox"},
		{name: "sandbox bad addr", args: []string{"sandbox", "list", "-addr", "nowhere"}, code: 1, stderr: `addr "nowhere"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tc.args, func(k string) string { return tc.env[k] }, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stderr: %s", stderr.String())
			require.True(t, strings.Contains(stdout.String(), tc.stdout), "stdout: %s", stdout.String())
			require.True(t, strings.Contains(stderr.String(), tc.stderr), "stderr: %s", stderr.String())
			if tc.noStderr != "" {
				require.NotContains(t, stderr.String(), tc.noStderr)
			}
		})
	}
}

// TestHelpGolden: each command's -h lists its own flags and variables, on stdout, and exits 0.
// TestHelpHidesTheDatabasePassword: help shows FLOWHOOK_DATABASE_URL as the flag's default,
// without its password, for every command that reads it.
func TestHelpHidesTheDatabasePassword(t *testing.T) {
	t.Parallel()
	vars := env(map[string]string{"FLOWHOOK_DATABASE_URL": "postgres://flowhook:s3cret-pw-91@db.internal:5432/flowhook?sslmode=disable"})
	for _, cmd := range []string{"serve", "migrate", "rotate-secrets"} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 0, run(t.Context(), []string{cmd, "-h"}, vars, &stdout, &stderr), cmd)
		require.NotContains(t, stdout.String()+stderr.String(), "s3cret-pw-91", cmd)
		require.Contains(t, stdout.String(), "postgres://flowhook:xxxxx@db.internal:5432/flowhook?sslmode=disable", cmd)
	}
	// pgx also takes the password as a query parameter, and a connection string that is no URL.
	for raw, shown := range map[string]string{
		"postgres://flowhook@db.internal/flowhook?password=s3cret-pw-91&sslmode=disable": "postgres://flowhook@db.internal/flowhook?password=xxxxx&sslmode=disable",
		"host=db.internal user=flowhook password=s3cret-pw-91 dbname=flowhook":           "(set, not shown)",
	} {
		for _, cmd := range []string{"serve", "migrate", "rotate-secrets"} {
			var stdout, stderr bytes.Buffer
			require.Equal(t, 0, run(t.Context(), []string{cmd, "-h"}, env(map[string]string{"FLOWHOOK_DATABASE_URL": raw}), &stdout, &stderr), cmd)
			require.NotContains(t, stdout.String()+stderr.String(), "s3cret-pw-91", cmd)
			require.Contains(t, stdout.String(), shown, cmd)
		}
	}
}

func TestHelpGolden(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"dev", "serve", "migrate", "rotate-secrets", "sandbox", "version"} {
		t.Run(cmd, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), []string{cmd, "-h"}, func(string) string { return "" }, &stdout, &stderr)
			require.Equal(t, 0, code)
			require.Empty(t, stderr.String())
			path := filepath.Join("testdata", cmd+".golden")
			if *update {
				require.NoError(t, os.WriteFile(path, stdout.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./server/cmd/flowhook -run TestHelpGolden -update")
			require.Equal(t, string(want), stdout.String())
		})
	}
	// Each lists only its own: dev reads no database URL and no secret key; migrate listens
	// nowhere; serve has every knob.
	help := func(cmd string) string {
		var stdout bytes.Buffer
		run(t.Context(), []string{cmd, "-h"}, func(string) string { return "" }, &stdout, io.Discard)
		return stdout.String()
	}
	require.NotContains(t, help("dev"), "DATABASE_URL")
	require.NotContains(t, help("dev"), "SECRET_KEY")
	require.NotContains(t, help("migrate"), "-addr")
	require.NotContains(t, help("migrate"), "BOOTSTRAP_ADMIN_KEY")
	require.Contains(t, help("serve"), "-sandbox")
	require.Contains(t, help("serve"), "FLOWHOOK_SECRET_KEY")
}

// TestErrorPrintedOnce: a flag error is one line on stderr, not the flag package's message,
// the usage and the message again.
func TestErrorPrintedOnce(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"dev", "serve", "migrate", "rotate-secrets", "sandbox", "version"} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{cmd, "-nope"}, func(string) string { return "" }, &stdout, &stderr)
		require.Equal(t, 1, code, cmd)
		require.Empty(t, stdout.String(), cmd)
		require.Equal(t, "flowhook: flag provided but not defined: -nope (see 'flowhook "+cmd+" -h')\n", stderr.String())
	}
}

// TestAddressInUse: a second server on a port already taken says so in one line, with the
// way out, and never touches its data dir.
func TestAddressInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	for _, cmd := range []string{"dev", "serve"} {
		dataDir := filepath.Join(t.TempDir(), "data")
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{cmd, "-addr", ln.Addr().String(), "-data-dir", dataDir},
			func(string) string { return "" }, &stdout, &stderr)
		require.Equal(t, 1, code, cmd)
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		last := lines[len(lines)-1]
		require.Contains(t, last, "flowhook: listen on "+ln.Addr().String()+": something (another flowhook?) already listens there", cmd)
		require.Contains(t, last, "FLOWHOOK_ADDR", cmd)
		require.NoDirExists(t, dataDir, "%s: nothing was created", cmd)
	}
}

// TestBadSecretKeyBeforeMigrations: a FLOWHOOK_SECRET_KEY that is not 32 bytes of base64 is
// reported before the database is touched.
func TestBadSecretKeyBeforeMigrations(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"serve", "-addr", "127.0.0.1:0", "-data-dir", dataDir},
		env(map[string]string{"FLOWHOOK_SECRET_KEY": "not a key!"}), &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "FLOWHOOK_SECRET_KEY: not base64")
	require.NotContains(t, stderr.String(), "migration")
	require.NotContains(t, stderr.String(), "not a key!")
	entries, err := os.ReadDir(dataDir)
	require.NoError(t, err)
	require.Empty(t, entries, "no database was created")
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestServeOnPortZero: with -addr 127.0.0.1:0 the server takes a free port, and the default
// public URL (the webhook URLs providers call) names that port, not 0.
func TestServeOnPortZero(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	vars := map[string]string{"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": "fh_test_port_zero_key_0123456789"}
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-addr", "127.0.0.1:0", "-data-dir", t.TempDir()}, env(vars), io.Discard, pw)
		pw.Close()
	}()
	var serving struct {
		Msg       string `json:"msg"`
		Addr      string `json:"addr"`
		PublicURL string `json:"public_url"`
	}
	scan := bufio.NewScanner(pr)
	for scan.Scan() {
		if json.Unmarshal(scan.Bytes(), &serving) == nil && serving.Msg == "serving" {
			break
		}
	}
	require.Equal(t, "serving", serving.Msg, "the server never logged that it serves")
	_, port, err := net.SplitHostPort(serving.Addr)
	require.NoError(t, err)
	require.NotEqual(t, "0", port)
	require.Equal(t, "http://"+serving.Addr, serving.PublicURL)
	res, err := http.Get(serving.PublicURL + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }() // the drain logs
	require.Equal(t, 0, <-done)
}

// running is a flowhook dev or serve run in-process.
type running struct {
	base   string // http://127.0.0.1:port
	addr   string
	stdout *testlog.Buffer // the running command writes them while the test reads
	stderr *testlog.Buffer
	stop   func() int
}

var apiLine = regexp.MustCompile(`(?m)^  API +(http://\S+)`)

// startServer runs `flowhook <args>` with JSON logs and returns once it serves; the test's
// end stops it.
func startServer(t *testing.T, vars map[string]string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &running{stdout: &testlog.Buffer{}, stderr: &testlog.Buffer{}}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append(args, "-log-format", "json"), env(vars), s.stdout, s.stderr) }()
	var once sync.Once
	code := -1
	s.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	var serving struct {
		Msg  string `json:"msg"`
		Addr string `json:"addr"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for found := false; !found; {
		select {
		case c := <-done:
			done <- c
			t.Fatalf("flowhook %v exited with %d: %s", args, c, s.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "the server never logged that it serves: %s", s.stderr.String())
		for _, line := range strings.Split(s.stderr.String(), "\n") {
			if json.Unmarshal([]byte(line), &serving) == nil && serving.Msg == "serving" {
				found = true
			}
		}
	}
	s.addr, s.base = serving.Addr, "http://"+serving.Addr
	return s
}

// sandbox runs `flowhook sandbox <args>` against the server and returns its exit code and
// output.
func (s *running) sandbox(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), append([]string{"sandbox"}, args...), env(map[string]string{"FLOWHOOK_ADDR": s.addr}), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestDebugListener: -debug-addr serves Go's profiles on a listener of its own; the API's port
// never serves them, and without the flag there is no such listener.
func TestDebugListener(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, map[string]string{"FLOWHOOK_DEBUG_ADDR": "127.0.0.1:0"}, "serve", "-addr", "127.0.0.1:0", "-data-dir", dir)
	var line struct {
		Msg       string `json:"msg"`
		DebugAddr string `json:"debug_addr"`
	}
	for _, l := range strings.Split(s.stderr.String(), "\n") {
		if json.Unmarshal([]byte(l), &line) == nil && line.DebugAddr != "" {
			break
		}
	}
	require.NotEmpty(t, line.DebugAddr, s.stderr.String())
	require.NotEqual(t, s.addr, line.DebugAddr)
	get := func(url string) (int, string) {
		res, err := http.Get(url)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	code, body := get("http://" + line.DebugAddr + "/debug/pprof/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "goroutine")
	code, body = get("http://" + line.DebugAddr + "/debug/pprof/heap?debug=1")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "heap profile")
	code, _ = get(s.base + "/debug/pprof/")
	require.Equal(t, http.StatusNotFound, code, "the API's port serves no profiles")

	code = run(t.Context(), []string{"serve", "-debug-addr", "nonsense", "-data-dir", t.TempDir()}, env(nil), io.Discard, io.Discard)
	require.NotZero(t, code)
}

// TestDebugAddrInUseCreatesNoAdmin: a debug address in use stops serve before anything is
// made, so that no first admin is created whose generated key nobody was shown; the next start
// creates it with the key it is given.
func TestDebugAddrInUseCreatesNoAdmin(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer held.Close()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"serve", "-addr", "127.0.0.1:0", "-debug-addr", held.Addr().String(), "-data-dir", dir}, env(nil), &stdout, &stderr)
	require.NotZero(t, code)
	require.Contains(t, stderr.String(), "debug listener on "+held.Addr().String())
	require.NotContains(t, stdout.String(), "Created the first admin")

	const key = "fh_test_after_debug_addr_0123456789"
	s := startServer(t, map[string]string{"FLOWHOOK_BOOTSTRAP_ADMIN_KEY": key}, "serve", "-addr", "127.0.0.1:0", "-data-dir", dir)
	me, err := newClients(s.base, key).identity.WhoAmI(t.Context(), connect.NewRequest(&flowhookv1.WhoAmIRequest{}))
	require.NoError(t, err, "the first admin has the key given now")
	require.Equal(t, "admin@flowhook.local", me.Msg.GetUser().GetEmail())
}

// TestPublicURLWarning: serve warns that no public URL is set only when neither -public-url
// nor FLOWHOOK_PUBLIC_URL is given, not when the one given equals the default http://{addr}.
func TestPublicURLWarning(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // a free port: the default public URL below must name it
	const warning = "no public URL is set"

	s := startServer(t, nil, "serve", "-addr", "127.0.0.1:0", "-data-dir", t.TempDir())
	require.Contains(t, s.stderr.String(), warning, "nothing given")
	require.Equal(t, 0, s.stop())

	s = startServer(t, map[string]string{"FLOWHOOK_PUBLIC_URL": "http://" + addr}, "serve", "-addr", addr, "-data-dir", t.TempDir())
	require.NotContains(t, s.stderr.String(), warning, "the variable is given")
	require.Contains(t, s.stderr.String(), `"public_url":"http://`+addr+`"`)
	require.Equal(t, 0, s.stop())

	s = startServer(t, nil, "serve", "-addr", addr, "-public-url", "http://"+addr, "-data-dir", t.TempDir())
	require.NotContains(t, s.stderr.String(), warning, "the flag is given")
	require.Contains(t, s.stderr.String(), `"public_url":"http://`+addr+`"`)
	require.Equal(t, 0, s.stop())
}
