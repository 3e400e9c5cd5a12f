// Command flowhook runs the flowhook workflow service.
//
//	flowhook serve     serve the API and webhooks (embedded SQLite unless FLOWHOOK_DATABASE_URL is set)
//	flowhook migrate   apply the database migrations and exit
//	flowhook version   print the version, commit and Go version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"

	"github.com/flowhook/flowhook/server/internal/app"
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
  serve     serve the API and webhooks
  migrate   apply the database migrations and exit
  version   print the version, commit and Go version

Run 'flowhook <command> -h' for a command's flags. Every flag can also be set with its
FLOWHOOK_* environment variable.
`

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		err = migrate(ctx, args[1:], getenv, stderr)
	case "version":
		v, c := buildInfo()
		fmt.Fprintf(stdout, "flowhook %s (commit %s, %s)\n", v, c, runtime.Version())
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

func load(name string, args []string, getenv func(string) string, stderr io.Writer) (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(name, args, getenv, stderr)
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

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, log, err := load("flowhook serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	v, _ := buildInfo()
	tel, err := telemetry.Setup(ctx, v, getenv)
	if err != nil {
		return err
	}
	defer func() {
		if err := tel.Shutdown(context.WithoutCancel(ctx)); err != nil {
			log.Warn("telemetry shutdown", "error", err.Error())
		}
	}()
	if cfg.Embedded() {
		log.InfoContext(ctx, "using the embedded SQLite database; set FLOWHOOK_DATABASE_URL for PostgreSQL", "data_dir", cfg.DataDir)
	}
	// Listen before building the app: with port 0 the system picks a free port, and the
	// default public URL (http://{addr}) must name the port actually bound, since providers
	// call back to it. The "serving" log line reports the address.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	if cfg.PublicURL == "http://"+cfg.Addr {
		cfg.PublicURL = "http://" + ln.Addr().String()
	}
	a, err := app.New(ctx, cfg, log, tel)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.BootstrapKey != "" {
		// Printed once, to the terminal rather than the logs: it is a credential.
		fmt.Fprintf(stdout, "\nCreated the first admin (admin@flowhook.local). Its API key, shown only now:\n\n    %s\n\n"+
			"Use it as: Authorization: Bearer <key>. Set FLOWHOOK_BOOTSTRAP_ADMIN_KEY to choose it instead.\n\n", a.BootstrapKey)
	}
	return a.Serve(ctx, ln)
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, log, err := load("flowhook migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir})
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
