// Package config holds flowhook's typed configuration, read from command-line flags and
// FLOWHOOK_* environment variables (a flag wins over its variable), with defaults and a
// Validate that names every problem precisely at start-up.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flowhook/flowhook/server/internal/secretkey"
)

// Config is everything `flowhook serve` and `flowhook dev` need to know.
type Config struct {
	// Addr is the host:port the server listens on.
	Addr string
	// DatabaseURL selects PostgreSQL (postgres://…); empty runs on the embedded SQLite database.
	DatabaseURL string
	// DataDir holds the embedded database and other local state.
	DataDir string
	// PublicURL is the base URL the outside world reaches this service at (webhook URLs).
	PublicURL string
	// PublicURLDefault reports that no public URL was given (neither -public-url nor
	// FLOWHOOK_PUBLIC_URL) and PublicURL is DefaultPublicURL(Addr): serve then names the port
	// actually bound (-addr …:0) and warns that only this machine reaches it. A URL given that
	// happens to equal the default is not a default.
	PublicURLDefault bool
	// LogLevel is debug, info, warn or error; LogFormat is json or text.
	LogLevel  slog.Level
	LogFormat string
	// DBMaxConns bounds the connections a replica opens to PostgreSQL, requests, job queue and
	// one-statement writes together (0: 30).
	DBMaxConns int
	// DebugAddr, when set, is a second listener serving Go's profiles (/debug/pprof/): CPU,
	// heap, allocations, goroutines. Off by default; keep it on loopback.
	DebugAddr string

	// HTTP server hardening.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	MaxHeaderBytes    int
	// MaxRequestBytes caps one RPC request message.
	MaxRequestBytes int
	// BootstrapAdminKey is the API key of the first admin, created on an empty database; empty
	// makes serve generate one and print it once. Never logged.
	BootstrapAdminKey string
	// SecretKey is the key ring sealing provider secrets at rest: base64 of 32 bytes, or
	// several such keys separated by commas while a key is rotated, the first sealing and every
	// one opening (see package secretkey). The embedded mode generates one in the data dir when
	// it is empty; with PostgreSQL every replica needs the same ring. Never logged.
	SecretKey string
	// OrphanWindow is how long a webhook for an unknown work item is retried before it is
	// marked ORPHANED (the webhook may beat the commit that couples the id).
	OrphanWindow time.Duration
	// ReconcileInterval is how often work items still waiting are checked at their provider
	// (for notifications that never arrived).
	ReconcileInterval time.Duration
	// ProviderTimeout bounds one HTTP exchange with an outside system (a provider's API, a
	// connector's create_url); a create that times out is tried again.
	ProviderTimeout time.Duration
	// JobTimeout bounds one attempt of a background job (a create, an event, …); a job still
	// running half as long again is taken for the work of a dead replica and retried elsewhere.
	JobTimeout time.Duration
	// MarkGrace is how long a signed document or an event stored PENDING may stay due (not
	// handled in-process) before the leader's sweep hands it to a job (0: the job timeout and
	// a minute, at least worker.MarkGrace). A new work item's creation has its own
	// (worker.CreationGrace, from the job timeout). Not a flag: tests shorten it.
	MarkGrace time.Duration
	// CORSOrigins are the browser origins (https://app.example.com) allowed to call the API
	// from another origin, e.g. a front end built on the TypeScript SDK; "*" allows any. Empty
	// allows none: browsers then reach the API only from its own origin.
	CORSOrigins []string
	// Sandbox serves the fake providers under /sandbox/ and points every unconfigured
	// provider at them (flowhook dev; serve --sandbox).
	Sandbox bool
	// AdoptBootstrapKey adds BootstrapAdminKey to the first admin's keys when the database
	// already has one and the key is not an admin's yet (flowhook dev), so that the same
	// key works on a data dir made earlier.
	AdoptBootstrapKey bool
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Addr:              "127.0.0.1:8080",
		DataDir:           "./flowhook-data",
		LogLevel:          slog.LevelInfo,
		LogFormat:         "json",
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxRequestBytes:   4 << 20,
		OrphanWindow:      15 * time.Minute,
		ReconcileInterval: 6 * time.Hour,
		ProviderTimeout:   60 * time.Second,
		JobTimeout:        2 * time.Minute,
	}
}

// MinDBMaxConns is the fewest PostgreSQL connections a replica works with (store.MinMaxConns:
// two for the main pool, one for each side pool).
const MinDBMaxConns = 4

// Command is a subcommand of flowhook that reads a configuration: each defines only the
// flags (and reads only the variables) it uses.
type Command string

const (
	// Serve is production mode: every setting, PostgreSQL or the embedded database.
	Serve Command = "serve"
	// Dev is the newcomer's server: the embedded database in ./.flowhook, the sandbox on,
	// text logs; FLOWHOOK_DATABASE_URL and FLOWHOOK_SECRET_KEY are not read.
	Dev Command = "dev"
	// Migrate applies the migrations and exits.
	Migrate Command = "migrate"
	// RotateSecrets re-seals every stored secret with the first key of the ring and exits.
	RotateSecrets Command = "rotate-secrets"
)

// summaries are the first lines of each command's help.
var summaries = map[Command]string{
	Serve: `Serve the API, the webhooks and /metrics on one port (production mode). The database is
PostgreSQL when a database URL is set, else the embedded SQLite database in -data-dir.`,
	Dev: `Run flowhook for development on one laptop: the embedded SQLite database in -data-dir,
an admin API key (FLOWHOOK_BOOTSTRAP_ADMIN_KEY, else generated and printed once), and the
sandbox: fake DocuSign, OneSpan and ticketing systems under /sandbox/ on the same port, which
every unconfigured provider points at. Nothing reaches a real provider. Start over with
rm -rf of the data dir.`,
	Migrate: `Apply the database migrations and exit.`,
	RotateSecrets: `Re-seal every stored provider secret with the first key of FLOWHOOK_SECRET_KEY (embedded
mode: of the key file in -data-dir) and exit. To rotate the key: put a new key first in the
ring, keeping the old one after it (FLOWHOOK_SECRET_KEY=<new>,<old>); restart every replica
with it; run rotate-secrets (safe while replicas serve, and to run again); then drop the old
key. It prints how many settings groups it re-sealed and how many already were, and fails
when a stored secret opens with no key of the ring. Page tokens issued before the new key
became the first are refused: clients start such a listing over. Embedded mode: stop
flowhook, put the new key on the first line of secret.key in the data dir, run
rotate-secrets, then delete the old lines.`,
}

// envOnly are the variables a command reads that have no flag (a secret on the command line
// would show in ps), by command.
var envOnly = map[Command][]string{
	Serve: {
		"FLOWHOOK_BOOTSTRAP_ADMIN_KEY  API key of the first admin, created on an empty database (else generated and printed once)",
		"FLOWHOOK_SECRET_KEY           base64 of 32 bytes sealing provider secrets (embedded mode: kept in the data dir);",
		"                              to rotate, several comma-separated: the first seals, all open (see rotate-secrets -h)",
		"OTEL_*                        OpenTelemetry: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_SDK_DISABLED, …",
	},
	Dev: {
		"FLOWHOOK_BOOTSTRAP_ADMIN_KEY  the admin's API key: created with the first admin, or added to it on an existing data dir",
		"OTEL_*                        OpenTelemetry: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, OTEL_SDK_DISABLED, …",
	},
	Migrate: {
		"FLOWHOOK_SECRET_KEY           not used, but checked when set: a deploy that migrates first fails on a malformed key",
		"                              before the schema changes",
	},
	RotateSecrets: {
		"FLOWHOOK_SECRET_KEY           the key ring: the first key seals, every key opens (comma-separated base64 of 32",
		"                              bytes each); embedded mode: unset reads the key file in -data-dir",
	},
}

// Load reads the configuration of a command: defaults, then FLOWHOOK_* variables from getenv,
// then flags from args. Only the command's own flags are defined. With -h it writes the
// command's help to help and returns flag.ErrHelp; a parse error is returned, never printed.
func Load(cmd Command, args []string, getenv func(string) string, help io.Writer) (Config, error) {
	c := Default()
	switch cmd {
	case Serve, Migrate, RotateSecrets:
	case Dev:
		c.DataDir = "./.flowhook"
		c.LogFormat = "text"
		c.Sandbox = true
		c.AdoptBootstrapKey = true
	default:
		return c, fmt.Errorf("config: unknown command %q", cmd)
	}
	fs := flag.NewFlagSet("flowhook "+string(cmd), flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned; help is written below
	fs.Usage = func() {}
	var errs []error
	// envErrs are the variables that do not parse, by the flag that reads them: a flag given
	// on the command line wins over its variable (README), so its variable's error is dropped.
	type envErr struct {
		flag string
		err  error
	}
	var envErrs []envErr
	env := func(key string) string { return getenv("FLOWHOOK_" + key) }

	str := func(p *string, flagName, key, help string) {
		if v := env(key); v != "" {
			*p = v
		}
		fs.StringVar(p, flagName, *p, help+" (env FLOWHOOK_"+key+")")
	}
	dur := func(p *time.Duration, flagName, key, help string) {
		if v := env(key); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				envErrs = append(envErrs, envErr{flagName, fmt.Errorf("FLOWHOOK_%s: %q is not a duration (e.g. 30s, 2m)", key, v)})
			} else {
				*p = d
			}
		}
		fs.DurationVar(p, flagName, *p, help+" (env FLOWHOOK_"+key+")")
	}
	num := func(p *int, flagName, key, help string) {
		if v := env(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				envErrs = append(envErrs, envErr{flagName, fmt.Errorf("FLOWHOOK_%s: %q is not a whole number", key, v)})
			} else {
				*p = n
			}
		}
		fs.IntVar(p, flagName, *p, help+" (env FLOWHOOK_"+key+")")
	}
	boolean := func(p *bool, flagName, key, help string) {
		if v := env(key); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				envErrs = append(envErrs, envErr{flagName, fmt.Errorf("FLOWHOOK_%s: %q is not true or false", key, v)})
			} else {
				*p = b
			}
		}
		fs.BoolVar(p, flagName, *p, help+" (env FLOWHOOK_"+key+")")
	}

	logLevel := c.LogLevel.String()
	var corsOrigins string
	server := cmd == Serve || cmd == Dev
	if server {
		str(&c.Addr, "addr", "ADDR", "host:port to listen on")
	}
	if cmd != Dev {
		str(&c.DatabaseURL, "database-url", "DATABASE_URL", "PostgreSQL URL (postgres://…); empty runs on the embedded SQLite database in -data-dir")
	}
	str(&c.DataDir, "data-dir", "DATA_DIR", "directory of the embedded database")
	if server {
		str(&c.PublicURL, "public-url", "PUBLIC_URL", "base URL providers reach this service at; default http://{addr} (127.0.0.1 for a wildcard host)")
	}
	str(&logLevel, "log-level", "LOG_LEVEL", "debug, info, warn or error")
	str(&c.LogFormat, "log-format", "LOG_FORMAT", "json or text")
	if server {
		str(&corsOrigins, "cors-origins", "CORS_ORIGINS", "comma-separated browser origins allowed to call the API (https://app.example.com; * for any)")
		// The bootstrap key is read from the environment only: a flag would show in `ps`.
		c.BootstrapAdminKey = env("BOOTSTRAP_ADMIN_KEY")
	}
	if cmd != Dev {
		c.SecretKey = env("SECRET_KEY")
	}
	if cmd == Serve {
		boolean(&c.Sandbox, "sandbox", "SANDBOX", "serve the sandbox (fake providers under /sandbox/, unauthenticated) as flowhook dev does; never on a server others reach")
		num(&c.DBMaxConns, "db-max-conns", "DB_MAX_CONNS", "connections this replica opens to PostgreSQL at most, all its pools together (0: 30; at least 4)")
		str(&c.DebugAddr, "debug-addr", "DEBUG_ADDR", "host:port of a second listener serving Go's profiles at /debug/pprof/ (empty: off); loopback only")
		dur(&c.ReadHeaderTimeout, "read-header-timeout", "READ_HEADER_TIMEOUT", "time to read a request's headers")
		dur(&c.ReadTimeout, "read-timeout", "READ_TIMEOUT", "time to read a whole request")
		dur(&c.WriteTimeout, "write-timeout", "WRITE_TIMEOUT", "time to write a response")
		dur(&c.IdleTimeout, "idle-timeout", "IDLE_TIMEOUT", "keep-alive idle time")
		dur(&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", "time to drain requests on SIGTERM")
		num(&c.MaxHeaderBytes, "max-header-bytes", "MAX_HEADER_BYTES", "largest request header block")
		dur(&c.OrphanWindow, "orphan-window", "ORPHAN_WINDOW", "how long to retry a webhook for an unknown work item")
		dur(&c.ReconcileInterval, "reconcile-interval", "RECONCILE_INTERVAL", "how often to ask providers about work items still waiting")
		dur(&c.ProviderTimeout, "provider-timeout", "PROVIDER_TIMEOUT", "time one HTTP exchange with an outside system may take")
		dur(&c.JobTimeout, "job-timeout", "JOB_TIMEOUT", "time one background job attempt may take; a job running 1.5 times as long on a replica that died is retried elsewhere")
		num(&c.MaxRequestBytes, "max-request-bytes", "MAX_REQUEST_BYTES", "largest RPC request message")
	}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(help, cmd, fs)
			return c, err
		}
		return c, fmt.Errorf("%w (see 'flowhook %s -h')", err, cmd)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, e := range envErrs {
		if !given[e.flag] {
			errs = append(errs, e.err)
		}
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " ")))
	}
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("log level %q: want debug, info, warn or error", logLevel))
	}
	if c.PublicURL == "" {
		c.PublicURL = DefaultPublicURL(c.Addr)
		c.PublicURLDefault = true
	}
	for o := range strings.SplitSeq(corsOrigins, ",") {
		// Browsers send an Origin without a trailing slash; one pasted with it would never match.
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// redactedURL is a database URL with its password masked ("xxxxx"); one that is not a URL is
// not shown at all.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		// Not a URL (pgx also takes "host=… password=…"): nothing of it is shown.
		return "(set, not shown)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// DefaultPublicURL is the public URL when none is set: http://{addr}, a wildcard host (":8080",
// "0.0.0.0:8080", "[::]:8080") named 127.0.0.1, since a URL given to others must name a host.
func DefaultPublicURL(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			return "http://" + net.JoinHostPort("127.0.0.1", port)
		}
	}
	return "http://" + addr
}

// loopback reports a host only this machine reaches: localhost or a loopback address.
func loopback(host string) bool {
	ip := net.ParseIP(host)
	return strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback())
}

// writeHelp writes a command's help: what it does, its flags, and the variables it reads
// that have no flag.
func writeHelp(w io.Writer, cmd Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: flowhook %s [flags]\n\n%s\n\nflags:\n", cmd, summaries[cmd])
	if f := fs.Lookup("database-url"); f != nil && f.DefValue != "" {
		// Its default is FLOWHOOK_DATABASE_URL when set: shown without its password.
		f.DefValue = redactedURL(f.DefValue)
	}
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if vars := envOnly[cmd]; len(vars) > 0 {
		fmt.Fprintf(w, "\nenvironment (no flag):\n")
		for _, v := range vars {
			fmt.Fprintf(w, "  %s\n", v)
		}
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port, e.g. 127.0.0.1:8080 or :8080", c.Addr))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("addr %q: port must be a number from 0 to 65535", c.Addr))
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		switch {
		case err != nil:
			errs = append(errs, errors.New("database URL: cannot be parsed as a URL (want postgres://user@host:5432/db)"))
		case u.Scheme != "postgres" && u.Scheme != "postgresql":
			errs = append(errs, fmt.Errorf("database URL: scheme %q is not supported; use postgres:// or leave it empty for the embedded database", u.Scheme))
		}
	} else if strings.TrimSpace(c.DataDir) == "" {
		errs = append(errs, errors.New("data dir: required when no database URL is set"))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public URL %q: want an absolute http:// or https:// URL", c.PublicURL))
	}
	for _, o := range c.CORSOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("CORS origin %q: want scheme://host[:port] (e.g. https://app.example.com) or *", o))
		}
	}
	if c.SecretKey != "" {
		// Its errors name keys by position, never by value.
		if _, err := secretkey.Parse("FLOWHOOK_SECRET_KEY", c.SecretKey); err != nil {
			errs = append(errs, err)
		}
	}
	if k := c.BootstrapAdminKey; k != "" && (len(k) < 20 || len(k) > 512 || strings.ContainsAny(k, " \t\r\n")) {
		errs = append(errs, errors.New("FLOWHOOK_BOOTSTRAP_ADMIN_KEY: want 20 to 512 characters without spaces"))
	}
	if c.ReconcileInterval < time.Minute || c.ReconcileInterval > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("reconcile interval %s: want at least 1m and at most 168h", c.ReconcileInterval))
	}
	if c.ProviderTimeout < 100*time.Millisecond || c.ProviderTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("provider timeout %s: want at least 100ms and at most 10m", c.ProviderTimeout))
	}
	if c.JobTimeout < time.Second || c.JobTimeout > 24*time.Hour {
		errs = append(errs, fmt.Errorf("job timeout %s: want at least 1s and at most 24h", c.JobTimeout))
	}
	if c.OrphanWindow <= 0 || c.OrphanWindow > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("orphan window %s: want more than 0 and at most 168h", c.OrphanWindow))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("log format %q: want json or text", c.LogFormat))
	}
	if c.DebugAddr != "" {
		if host, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			errs = append(errs, fmt.Errorf("debug-addr %q: want host:port, e.g. 127.0.0.1:6060", c.DebugAddr))
		} else if !loopback(host) {
			errs = append(errs, fmt.Errorf("debug-addr %q: Go's profiles have no authentication, so they are served on loopback only "+
				"(127.0.0.1:6060 or [::1]:6060); reach them from elsewhere through an SSH tunnel or a port-forward", c.DebugAddr))
		}
	}
	if c.DBMaxConns != 0 && (c.DBMaxConns < MinDBMaxConns || c.DBMaxConns > 10000) {
		errs = append(errs, fmt.Errorf("db max conns %d: want %d to 10000 (0: 30)", c.DBMaxConns, MinDBMaxConns))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read header timeout", c.ReadHeaderTimeout}, {"read timeout", c.ReadTimeout},
		{"write timeout", c.WriteTimeout}, {"idle timeout", c.IdleTimeout}, {"shutdown timeout", c.ShutdownTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s %s: must be positive", d.name, d.v))
		}
	}
	if c.MaxHeaderBytes < 4<<10 || c.MaxHeaderBytes > 16<<20 {
		errs = append(errs, fmt.Errorf("max header bytes %d: want 4096 to 16777216", c.MaxHeaderBytes))
	}
	if c.MaxRequestBytes < 64<<10 || c.MaxRequestBytes > 256<<20 {
		errs = append(errs, fmt.Errorf("max request bytes %d: want 65536 to 268435456", c.MaxRequestBytes))
	}
	return errors.Join(errs...)
}

// Embedded reports whether the service runs on the embedded SQLite database.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }
