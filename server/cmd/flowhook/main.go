// Command flowhook runs the flowhook workflow service.
//
//	flowhook dev       run on one laptop: embedded SQLite in ./.flowhook, an admin key, and the
//	                   sandbox (fake DocuSign, OneSpan and ticketing systems under /sandbox/)
//	flowhook serve     serve the API and webhooks in production mode (embedded SQLite unless
//	                   FLOWHOOK_DATABASE_URL is set; --sandbox adds the sandbox)
//	flowhook migrate   apply the database migrations and exit
//	flowhook rotate-secrets  re-seal stored secrets with the first key of FLOWHOOK_SECRET_KEY
//	flowhook sandbox   act as the outside system against a running dev server:
//	                   `flowhook sandbox list`, `flowhook sandbox complete <external id>`, …
//	flowhook version   print the version, commit and Go version
//
// `flowhook <command> -h` lists a command's flags and the environment variables it reads.
// Every flag can also be set with its FLOWHOOK_* variable (a flag wins); secrets are read from
// the environment only.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/flowhook/flowhook/server/internal/app"
	"github.com/flowhook/flowhook/server/internal/auth"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
)

// Set with -ldflags "-X main.version=… -X main.commit=…" (see the Makefile).
var (
	version = "dev"
	commit  = ""
)

const usage = `usage: flowhook <command> [flags]

commands:
  dev       run on one laptop: embedded database in ./.flowhook, an admin key, and the
            sandbox (fake DocuSign, OneSpan and ticketing systems); start here
  serve     serve the API and webhooks (production mode)
  migrate   apply the database migrations and exit
  rotate-secrets
            re-seal stored secrets with the first key of FLOWHOOK_SECRET_KEY (key rotation)
  sandbox   act as the outside system against a running dev server
            (flowhook sandbox list; flowhook sandbox complete <external id>; …)
  version   print the version, commit and Go version

Run 'flowhook <command> -h' for a command's flags and the environment variables it reads.
`

func main() {
	ctx, stop := signalContext()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// signalContext ends at the first SIGINT or SIGTERM, which starts a graceful shutdown. From then
// on the signals do what they do by default, so that a second Ctrl-C ends the process at once
// rather than wait for the drain: the relay stops before the context ends, so by the time
// anything has seen the shutdown begin, a second signal is no longer caught.
func signalContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	c := make(chan os.Signal, 1)
	signal.Notify(c, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-c:
		case <-ctx.Done():
		}
		signal.Stop(c)
		cancel()
	}()
	return ctx, cancel
}

// run runs a command until it ends or ctx does, and returns the exit code. An error is
// printed once, as one "flowhook: …" line on stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		err = server(ctx, config.Dev, args[1:], getenv, stdout, stderr)
	case "serve":
		err = server(ctx, config.Serve, args[1:], getenv, stdout, stderr)
	case "migrate":
		err = migrate(ctx, args[1:], getenv, stdout, stderr)
	case "rotate-secrets":
		err = rotateSecrets(ctx, args[1:], getenv, stdout, stderr)
	case "sandbox":
		err = sandboxCommand(ctx, args[1:], getenv, stdout)
	case "version":
		err = versionCommand(args[1:], stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "flowhook: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintln(stderr, "flowhook:", err)
		return 1
	}
}

func versionCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("flowhook version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, "usage: flowhook version\n\nPrint the version, the commit and the Go version flowhook was built with.\nIt has no flags and reads no environment variable.\n")
			return err
		}
		return fmt.Errorf("%w (see 'flowhook version -h')", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("version: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	v, c := buildInfo()
	fmt.Fprintf(stdout, "flowhook %s (commit %s, %s)\n", v, c, runtime.Version())
	return nil
}

// load reads a command's configuration (its help goes to stdout) and builds its logger.
func load(cmd config.Command, args []string, getenv func(string) string, stdout, stderr io.Writer) (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(cmd, args, getenv, stdout)
	if err != nil {
		return cfg, nil, err
	}
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(stderr, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(stderr, opts)
	}
	return cfg, slog.New(h), nil
}

// server runs `flowhook serve` or `flowhook dev` until ctx ends.
// defaultGCPercent is the garbage collector's target when GOGC is not set. flowhook's live
// heap is small (tens of megabytes) and most of what it allocates lives for one request: at
// Go's default of 100 the collector's workers were about a seventh of the server's CPU under
// load; at 400 (a heap that may grow to five times the live one: a peak RSS of 133 MB instead
// of 75 MB) the CPU per ingested webhook fell by a sixth (docs/performance-history.md, session
// 11). GOGC, and GOMEMLIMIT for a hard bound, set it otherwise.
const defaultGCPercent = 400

func server(ctx context.Context, cmd config.Command, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, log, err := load(cmd, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	v, _ := buildInfo()
	tel, err := telemetry.Setup(ctx, v, getenv, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := tel.Shutdown(context.WithoutCancel(ctx)); err != nil {
			log.Warn("telemetry shutdown", "error", err.Error())
		}
	}()
	if cfg.Embedded() && cmd == config.Serve {
		log.InfoContext(ctx, "using the embedded SQLite database; set FLOWHOOK_DATABASE_URL for PostgreSQL", "data_dir", cfg.DataDir)
	}
	// Listen before building the app: with port 0 the system picks a free port, and the
	// default public URL (http://{addr}) must name the port actually bound, since providers
	// call back to it. The "serving" log line reports the address.
	ln, err := net.Listen("tcp", cfg.Addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s: something (another flowhook?) already listens there; stop it, or choose another address with -addr or FLOWHOOK_ADDR", cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	if cfg.PublicURLDefault {
		cfg.PublicURL = config.DefaultPublicURL(ln.Addr().String())
		if cmd == config.Serve {
			log.WarnContext(ctx, "no public URL is set: DocuSign, OneSpan and connectors are told to send their webhooks to "+cfg.PublicURL+
				", which only this machine reaches; set FLOWHOOK_PUBLIC_URL (or -public-url) to the address they reach flowhook at",
				"public_url", cfg.PublicURL)
		}
	}
	// The debug listener too, before the app: building it may create the first admin with a
	// generated key, printed below, and a failure after that would lose the key for good.
	if cfg.DebugAddr != "" {
		stopDebug, err := serveDebug(cfg.DebugAddr, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}
	a, err := app.New(ctx, cfg, log, tel)
	if err != nil {
		return err
	}
	defer a.Close()
	if cmd == config.Dev {
		banner(stdout, cfg, a, tel.Metrics != nil, ln.Addr().String())
	} else if a.BootstrapKey != "" {
		// Printed once, to the terminal rather than the logs: it is a credential.
		fmt.Fprintf(stdout, "\nCreated the first admin (admin@flowhook.local). Its API key, shown only now:\n\n    %s\n\n"+
			"Use it as: Authorization: Bearer <key>. Set FLOWHOOK_BOOTSTRAP_ADMIN_KEY to choose it instead.\n\n", a.BootstrapKey)
	}
	return a.Serve(ctx, ln)
}

// serveDebug serves Go's profiles (net/http/pprof) on a listener of their own, so that they are
// never on the API's port: `go tool pprof http://{addr}/debug/pprof/profile?seconds=30` for
// CPU, `…/debug/pprof/allocs` for allocations. It returns the function that stops it.
func serveDebug(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	// No /debug/pprof/cmdline: a command line may hold a database URL with its password.
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Warn("debug listener on: Go's profiles are served at /debug/pprof/", "debug_addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// banner tells a newcomer, on stdout, where everything is and what to do next.
func banner(w io.Writer, cfg config.Config, a *app.App, metrics bool, addr string) {
	base := strings.TrimRight(cfg.PublicURL, "/")
	var key string
	prefix := auth.Prefix(cfg.BootstrapAdminKey)
	switch {
	case a.BootstrapKey != "":
		key = a.BootstrapKey + "\n                 (generated now and shown only this once: keep it; set FLOWHOOK_BOOTSTRAP_ADMIN_KEY to choose your own)"
	case a.BootstrapKeyState == app.KeyCreated:
		key = "$FLOWHOOK_BOOTSTRAP_ADMIN_KEY (" + prefix + "…), the first admin's key"
	case a.BootstrapKeyState == app.KeyKnown:
		key = "$FLOWHOOK_BOOTSTRAP_ADMIN_KEY (" + prefix + "…), already an admin's key"
	case a.BootstrapKeyState == app.KeyAdopted:
		key = "$FLOWHOOK_BOOTSTRAP_ADMIN_KEY (" + prefix + "…), added now to " + a.BootstrapKeyOwner + "'s keys"
	case a.BootstrapKeyState == app.KeyIgnored:
		key = "NOT $FLOWHOOK_BOOTSTRAP_ADMIN_KEY: it is a revoked key, a deactivated user's or not an admin's (see the log);\n" +
			"                 use the key printed when this data dir was made, or start over"
	default:
		key = "the one printed when this data dir was made (set FLOWHOOK_BOOTSTRAP_ADMIN_KEY to add one of your choice)"
	}
	metricsURL := base + "/metrics"
	if !metrics {
		metricsURL = "off (OTEL_SDK_DISABLED)"
	}
	data, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		data = cfg.DataDir
	}
	sandboxURL := "off"
	if a.Sandbox != nil {
		sandboxURL = a.Sandbox.URL() + "/  (fake DocuSign, OneSpan and the connector \"sandbox\")"
	}
	// The sandbox command talks to the address bound here, whatever URL providers are given:
	// every hint pasted in a new terminal names it, unless it is the command's default.
	var cli string
	if addr != config.Default().Addr {
		cli = "FLOWHOOK_ADDR=" + addr + " "
	}
	fmt.Fprintf(w, `
flowhook dev is running. SANDBOX MODE: nothing reaches a real provider.

  API            %s  (Connect, gRPC, gRPC-Web; Authorization: Bearer <admin key>)
  Admin API key  %s
  Metrics        %s
  Sandbox        %s
  Console        %s/console/  (sign in with the admin key)
  Data           %s  (start over: stop flowhook, then rm -rf %s)

Work items at the sandbox live in memory: they are forgotten when flowhook dev stops.

Next, in a second terminal (or with go run ./server/cmd/flowhook instead of flowhook):
  %sflowhook sandbox list
  %sflowhook sandbox complete <external id>   (also: decline, void, expire, delete, …)

`, base, key, metricsURL, sandboxURL, base, data, cfg.DataDir, cli, cli)
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, log, err := load(config.Migrate, args, getenv, stdout, stderr)
	if err != nil {
		return err
	}
	// The fewest connections a pool set works with: migrate runs beside serving replicas (as an
	// init job), whose connections count against the same max_connections.
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: store.MinMaxConns})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx, log); err != nil {
		return err
	}
	log.InfoContext(ctx, "database is up to date", "database", string(db.Dialect))
	return nil
}

// buildInfo returns the version and commit: the ones linked in, else what the Go toolchain
// recorded about the build.
func buildInfo() (string, string) {
	v, c := version, commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && c == "" {
				c = s.Value
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}
