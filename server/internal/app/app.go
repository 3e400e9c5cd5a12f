// Package app assembles flowhook from its configuration: it opens and migrates the database,
// builds the engine, the Connect services and the webhook router, and serves them on one
// hardened http.Server (HTTP/1.1 and h2c) until its context ends, then drains requests.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	connectcors "connectrpc.com/cors"
	"github.com/rs/cors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"

	"github.com/flowhook/flowhook/server/internal/api"
	"github.com/flowhook/flowhook/server/internal/auth"
	"github.com/flowhook/flowhook/server/internal/config"
	"github.com/flowhook/flowhook/server/internal/console"
	"github.com/flowhook/flowhook/server/internal/document"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider"
	"github.com/flowhook/flowhook/server/internal/sandbox"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/telemetry"
	"github.com/flowhook/flowhook/server/internal/webhook"
	"github.com/flowhook/flowhook/server/internal/worker"
)

// sqlitePollInterval is how often the embedded database's job queue looks for jobs (see New).
const sqlitePollInterval = 100 * time.Millisecond

// App is a running flowhook: its database and its HTTP handler.
type App struct {
	sealer *store.Sealer
	queue  *worker.Queue

	// BootstrapKey is the first admin's API key when this start generated it: the caller shows
	// it once. Empty otherwise.
	BootstrapKey string
	// BootstrapKeyState says how FLOWHOOK_BOOTSTRAP_ADMIN_KEY was used (see KeyState).
	BootstrapKeyState KeyState
	// BootstrapKeyOwner is the email of the admin the key was added to (KeyAdopted).
	BootstrapKeyOwner string
	// Sandbox is the sandbox when the configuration asked for it (flowhook dev, serve
	// --sandbox), nil otherwise.
	Sandbox *sandbox.Sandbox

	cfg     config.Config
	log     *slog.Logger
	db      *store.DB
	handler http.Handler
}

// New opens and migrates the database and builds the handler.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, tel *telemetry.Telemetry) (*App, error) {
	// The secret key first: a bad FLOWHOOK_SECRET_KEY is reported before anything touches the
	// database.
	seal, err := sealer(cfg, log)
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, store.Options{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, MaxConns: int32(cfg.DBMaxConns)})
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, log); err != nil {
		db.Close()
		return nil, err
	}
	a := &App{cfg: cfg, log: log, db: db, sealer: seal}
	if tel.MeterProvider == nil {
		// Without metrics (OTEL_SDK_DISABLED, tests): a copy with a no-op meter provider, so
		// the caller's Telemetry is left as given.
		t := *tel
		t.MeterProvider = metricnoop.NewMeterProvider()
		tel = &t
	}
	// PostgreSQL wakes River with LISTEN/NOTIFY the moment a job commits, so its poll is only a
	// fallback. SQLite has no notifications, and River wakes itself only for jobs inserted
	// outside a transaction, while ours commit with their cause: it polls, and a job waits for
	// the next poll. At River's 1 s an instance entering a DocuSign state waited about a second
	// for its envelope (BenchmarkEnvelopeCreation); at 100 ms, about 0.1 s, for an idle server's
	// CPU going from about 0.5 % of a core to 1.7 % (50 ms: 2.9 %).
	// A state's timer, once River's scheduler has made its job available, waits for the next
	// poll too (no notification says it is due): 500 ms keeps timers within a second.
	poll := 500 * time.Millisecond
	if db.Dialect == store.SQLite {
		poll = sqlitePollInterval
	}
	if a.queue, err = worker.New(db, log, worker.Options{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: poll,
		ReconcileInterval: cfg.ReconcileInterval, JobTimeout: cfg.JobTimeout, MarkGrace: cfg.MarkGrace, TracerProvider: tel.TracerProvider, MeterProvider: tel.MeterProvider}); err != nil {
		db.Close()
		return nil, err
	}
	if a.BootstrapKey, err = a.bootstrap(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if a.handler, err = a.routes(tel); err != nil {
		db.Close()
		return nil, err
	}
	if cfg.Sandbox {
		if err := a.mountSandbox(ctx); err != nil {
			db.Close()
			return nil, err
		}
	} else {
		a.warnSandboxLeftovers(ctx)
	}
	return a, nil
}

// warnSandboxLeftovers warns of the systems whose settings still point at a sandbox (an
// earlier dev or serve --sandbox start on this database) that this server does not serve:
// their work items would fail.
func (a *App) warnSandboxLeftovers(ctx context.Context) {
	st := a.store()
	providers := provider.NewRegistry(st, a.cfg.PublicURL, provider.HTTPClient(a.cfg.ProviderTimeout), time.Now, provider.Builtin()...)
	left, err := sandbox.Leftovers(ctx, providers, providers.Connectors(st))
	if err != nil {
		a.log.WarnContext(ctx, "could not check the providers' settings for a sandbox's", "error", err.Error())
		return
	}
	for _, b := range left {
		a.log.WarnContext(ctx, b.System+" points at a sandbox this server does not serve (started without --sandbox): its work items will fail; "+
			"set it up for the real system in the settings (or the console's Settings page), or start with --sandbox", "system", b.System, "url", b.URL)
	}
}

// mountSandbox serves the sandbox under /sandbox/ on the app's handler, after pointing every
// unconfigured provider at it through the same settings editor and connector administration
// the RPCs use.
func (a *App) mountSandbox(ctx context.Context) error {
	st := a.store()
	providers := provider.NewRegistry(st, a.cfg.PublicURL, provider.HTTPClient(a.cfg.ProviderTimeout), time.Now, provider.Builtin()...)
	sb, err := sandbox.New(sandbox.Options{PublicURL: a.cfg.PublicURL, Providers: providers, Connectors: providers.Connectors(st),
		CallbackURL: providers.CallbackURL, Log: a.log})
	if err != nil {
		return err
	}
	if err := sb.Setup(ctx); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(sandbox.Prefix+"/", sb.Handler())
	mux.Handle("/", a.handler)
	a.handler, a.Sandbox = mux, sb
	return nil
}

// KeyState says what became of the configured bootstrap key at start.
type KeyState int

const (
	// KeyNone: no key was configured (one may have been generated: BootstrapKey).
	KeyNone KeyState = iota
	// KeyCreated: the first admin was created with the configured key.
	KeyCreated
	// KeyKnown: the key already is an admin's.
	KeyKnown
	// KeyAdopted: the database had its first admin; the key was added to its keys (dev).
	KeyAdopted
	// KeyIgnored: the database had its first admin and the key is not an admin's; it was
	// not used (serve; or dev, when the key is revoked, a non-admin's or a deactivated
	// user's).
	KeyIgnored
)

// bootstrapEmail is the first admin's email.
const bootstrapEmail = "admin@flowhook.local"

// bootstrap creates the first admin on an empty database, with the configured key or a new
// one. It returns the key when it generated it (to be shown once), "" otherwise. On a
// database that has its first admin, a configured key that is no admin's is added to that
// admin's keys when the configuration says so (dev), else ignored with a warning.
func (a *App) bootstrap(ctx context.Context) (string, error) {
	secret := a.cfg.BootstrapAdminKey
	generated := secret == ""
	if generated {
		secret = auth.NewSecret()
	}
	st := store.New(a.db)
	created, err := st.Bootstrap(ctx,
		engine.User{DisplayName: "Administrator", Email: bootstrapEmail, Roles: []engine.Role{engine.RoleAdmin}},
		engine.APIKey{Name: "bootstrap", Prefix: auth.Prefix(secret), Hash: auth.Hash(secret)})
	if err != nil {
		return "", fmt.Errorf("bootstrap the first admin: %w", err)
	}
	if created {
		a.log.InfoContext(ctx, "created the first admin ("+bootstrapEmail+")", "api_key_prefix", auth.Prefix(secret), "generated", generated)
		if generated {
			return secret, nil
		}
		a.BootstrapKeyState = KeyCreated
		return "", nil
	}
	if generated {
		return "", nil
	}
	a.BootstrapKeyState, err = a.adopt(ctx, st, secret)
	return "", err
}

// adopt handles a configured bootstrap key on a database that already has its first admin.
func (a *App) adopt(ctx context.Context, st *store.Store, secret string) (KeyState, error) {
	key, owner, err := st.APIKeyByHash(ctx, auth.Hash(secret))
	switch {
	case err == nil && key.RevokedAt == nil && owner.DeactivatedAt == nil && slices.Contains(owner.Roles, engine.RoleAdmin):
		return KeyKnown, nil
	case err == nil:
		// Every call with it would be refused: never announced as working.
		a.log.WarnContext(ctx, "FLOWHOOK_BOOTSTRAP_ADMIN_KEY was ignored: it is a revoked key, a deactivated user's or not an admin's", "api_key_prefix", auth.Prefix(secret))
		return KeyIgnored, nil
	case !errors.Is(err, engine.ErrNotFound):
		return KeyNone, fmt.Errorf("look up the bootstrap key: %w", err)
	case !a.cfg.AdoptBootstrapKey:
		a.log.WarnContext(ctx, "FLOWHOOK_BOOTSTRAP_ADMIN_KEY was ignored: the database already has its first admin, and the key is none of its admins' (create keys with IdentityService.CreateApiKey)")
		return KeyIgnored, nil
	}
	admin, err := firstAdmin(ctx, st)
	if err != nil {
		return KeyNone, err
	}
	if _, err := st.CreateAPIKey(ctx, engine.APIKey{UserID: admin.ID, Name: "bootstrap (FLOWHOOK_BOOTSTRAP_ADMIN_KEY)",
		Prefix: auth.Prefix(secret), Hash: auth.Hash(secret)}); err != nil {
		return KeyNone, fmt.Errorf("add FLOWHOOK_BOOTSTRAP_ADMIN_KEY to the admin's keys: %w", err)
	}
	a.log.InfoContext(ctx, "added FLOWHOOK_BOOTSTRAP_ADMIN_KEY to the first admin's API keys", "user", admin.Email, "api_key_prefix", auth.Prefix(secret))
	a.BootstrapKeyOwner = admin.Email
	return KeyAdopted, nil
}

// firstAdmin returns the bootstrap admin (admin@flowhook.local), else the first admin found,
// of the admins not deactivated (whose keys are refused).
func firstAdmin(ctx context.Context, st *store.Store) (engine.User, error) {
	var found *engine.User
	for after := ""; ; {
		page, next, err := st.ListUsers(ctx, engine.Page{Size: 200, After: after})
		if err != nil {
			return engine.User{}, fmt.Errorf("find the first admin: %w", err)
		}
		for _, u := range page {
			if !slices.Contains(u.Roles, engine.RoleAdmin) || u.DeactivatedAt != nil {
				continue
			}
			if u.Email == bootstrapEmail {
				return u, nil
			}
			if found == nil {
				found = &u
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	if found == nil {
		return engine.User{}, errors.New("find the first admin: the database has users but no active admin")
	}
	return *found, nil
}

// render turns the start form into the PDF to sign.
func render(in engine.DocumentInput) (engine.Rendered, error) {
	d := document.Input{Title: in.Title, WorkflowName: in.WorkflowName, Reference: in.Reference, CreatedAt: in.CreatedAt}
	for _, f := range in.Fields {
		d.Fields = append(d.Fields, document.Field{Label: f.Label, Value: f.Value})
	}
	for _, s := range in.Signers {
		d.Signers = append(d.Signers, document.Signer{Name: s.Name, Email: s.Email})
	}
	out, err := document.Render(d)
	if err != nil {
		return engine.Rendered{}, err
	}
	r := engine.Rendered{PDF: out.PDF, Anchors: out.Anchors}
	for _, p := range out.Placements {
		r.Boxes = append(r.Boxes, engine.Box{Page: p.Page, Left: p.X, Top: p.Y, Width: p.Width, Height: p.Height})
	}
	return r, nil
}

// store is the store with secrets sealing and jobs.
func (a *App) store() *store.Store {
	return store.New(a.db).WithSealer(a.sealer).WithJobs(a.queue)
}

// sealer returns the sealer of provider secrets: the configured key ring (FLOWHOOK_SECRET_KEY),
// else (embedded mode) the one kept in the data dir. Without either, secrets cannot be saved,
// and saying so is left to the call that tries.
func sealer(cfg config.Config, log *slog.Logger) (*store.Sealer, error) {
	var keys [][]byte
	var err error
	switch {
	case cfg.SecretKey != "":
		keys, err = store.ParseSecretKeys(cfg.SecretKey)
	case cfg.Embedded():
		keys, err = store.LoadOrCreateSecretKeys(cfg.DataDir)
	default:
		log.Warn("FLOWHOOK_SECRET_KEY is not set: provider secrets cannot be saved until it is")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s, err := store.NewSealer(keys[0], keys[1:]...)
	if err != nil {
		return nil, err
	}
	if s.Keys() > 1 {
		// A rotation in progress: the first key seals, the others only open.
		log.Info("the secret key ring holds older keys: run flowhook rotate-secrets, then drop them",
			"primary_key_id", s.KeyID(), "keys", s.Keys())
	}
	return s, nil
}

// Handler serves everything: the RPCs, /webhooks/, /healthz, /readyz and /metrics.
func (a *App) Handler() http.Handler { return a.handler }

// DB is the open database (for tests and admin commands).
func (a *App) DB() *store.DB { return a.db }

// Close releases the database, last: Serve has stopped the HTTP server and the job queue by
// the time it returns. Close on an app that never served stops its queue all the same (a no-op
// when it never started).
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(a.queue.Stop(ctx), a.db.Close())
}

func (a *App) routes(tel *telemetry.Telemetry) (http.Handler, error) {
	st := a.store()
	clock := engine.SystemClock{}
	security := engine.NewSecurity(st, clock)
	providers := provider.NewRegistry(st, a.cfg.PublicURL, provider.HTTPClient(a.cfg.ProviderTimeout), time.Now, provider.Builtin()...)
	connectors := providers.Connectors(st)
	runner := engine.NewRunner(st, st, clock)
	runner.Directory, runner.Providers = st, providers
	external := engine.NewExternal(st, st, runner, providers, clock, a.cfg.OrphanWindow)
	external.Log, external.Debug = st, security.Debug
	if err := external.Instrument(tel.TracerProvider, tel.MeterProvider); err != nil {
		return nil, err
	}
	if err := waitingGauge(tel.MeterProvider, st, providers); err != nil {
		return nil, err
	}
	if err := dueGauges(tel.MeterProvider, st); err != nil {
		return nil, err
	}
	if err := laneCounters(tel.MeterProvider, st); err != nil {
		return nil, err
	}
	creator := engine.NewCreator(st, st, runner, providers, render, clock, a.log)
	reconciler := engine.NewReconciler(st, external, providers, clock)
	worker.Register(a.queue.Workers(), creator, external, reconciler, func(ctx context.Context) (int, error) {
		return engine.PurgeEventLog(ctx, st, security, clock)
	})
	if err := worker.RegisterTimers(a.queue, runner.Timeout, st.TimersDue); err != nil {
		return nil, err
	}
	worker.RegisterRetention(a.queue.Workers(), engine.NewRetention(st, security, clock))
	worker.RegisterDocuments(a.queue, worker.DocumentPorts{Fetch: creator.FetchDocument, Download: creator.DownloadFor,
		Save: st.SaveDocuments, Clear: st.ClearDocumentDue, HandOver: st.HandOverDueDocuments})
	worker.RegisterEvents(a.queue, worker.EventPorts{Process: external.ProcessCommitted,
		HandOver: st.HandOverEvent, HandOverDue: st.HandOverDueEvents})
	worker.RegisterCreations(a.queue, worker.CreationPorts{Create: creator.CreateCommitted,
		HandOver: st.HandOverCreations, HandOverDue: st.HandOverDueCreations})

	mux := http.NewServeMux()
	err := api.Register(mux, api.Services{
		Design:    api.NewDesignService(engine.NewDesigner(st, st, providers, connectors), a.log),
		Instances: api.NewInstanceService(runner, a.log),
		Identity:  api.NewIdentityService(engine.NewIdentity(st, clock), a.log),
		Settings:  api.NewSettingsService(st, security, providers, connectors, a.log),
		EventLog:  api.NewEventLogService(st, external, reconciler, a.log),
		Health:    api.NewHealthChecker(st.Ping, api.ServiceNames...),
		Auth:      auth.NewAuthenticator(st, clock, a.log),
	}, api.Options{Log: a.log, TracerProvider: tel.TracerProvider, MaxRequestBytes: a.cfg.MaxRequestBytes, PageKey: st.PageKey})
	if err != nil {
		return nil, err
	}
	hooks, err := webhook.NewRouter(webhook.Options{Lookup: providers.Receiving, TracerProvider: tel.TracerProvider,
		MeterProvider: tel.MeterProvider, Debug: security.Debug, Ingest: external, Log: st, Logger: a.log})
	if err != nil {
		return nil, err
	}
	mux.Handle(webhook.Pattern, hooks)
	mux.Handle(webhook.ConnectorPattern, hooks)
	metrics := tel.Metrics
	if metrics == nil {
		metrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "metrics are off (OTEL_SDK_DISABLED)", http.StatusNotFound)
		})
	}
	mux.Handle("GET /metrics", metrics)
	ui := console.Handler()
	mux.Handle(console.Prefix+"/", ui)
	mux.Handle("GET "+console.Prefix, ui)
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix+"/", http.StatusFound))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeStatus(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := st.Ping(r.Context()); err != nil {
			writeStatus(w, http.StatusServiceUnavailable, "database unavailable")
			return
		}
		writeStatus(w, http.StatusOK, "ready")
	})
	return withCORS(mux, a.cfg.CORSOrigins), nil
}

// withCORS lets browser front ends on the allowed origins call the API: Connect, gRPC-Web and
// the bearer credential (connectrpc.com/cors lists the methods and headers those protocols
// need). Without origins the handler is returned as is, and browsers keep to the same origin.
func withCORS(h http.Handler, origins []string) http.Handler {
	if len(origins) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: connectcors.ExposedHeaders(),
		MaxAge:         7200, // seconds a browser may cache a preflight answer
	}).Handler(h)
}

// countGauge registers a gauge counted in the database at each scrape (bounded by 2 s).
func countGauge(mp metric.MeterProvider, name, description, unit string, count func(context.Context, metric.Int64Observer) error) error {
	_, err := mp.Meter("github.com/flowhook/flowhook/server/internal/app").Int64ObservableGauge(name,
		metric.WithDescription(description), metric.WithUnit(unit),
		metric.WithInt64Callback(func(ctx context.Context, o metric.Int64Observer) error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			return count(ctx, o)
		}))
	return err
}

// waitingGauge reports, at each scrape, the work items waiting at each system: every
// provider's own (zero included) and every connector's that has any.
func waitingGauge(mp metric.MeterProvider, st *store.Store, providers engine.Catalog) error {
	return countGauge(mp, "flowhook.work_items.waiting", "Work items being created or waiting for their outcome, by provider", "{work_item}",
		func(ctx context.Context, o metric.Int64Observer) error {
			counts, err := st.WaitingWorkItems(ctx)
			if err != nil {
				return err
			}
			for _, spec := range providers.Specs() {
				if !spec.Connectors {
					if _, ok := counts[spec.Provider.String()]; !ok {
						counts[spec.Provider.String()] = 0
					}
				}
			}
			for system, n := range counts {
				o.Observe(n, metric.WithAttributes(attribute.String("provider", system)))
			}
			return nil
		})
}

// dueGauges report the signed documents still to fetch, the events stored PENDING still to
// process and the new work items still to create in-process: a number that keeps growing says a provider is failing or the
// replicas cannot keep up.
func dueGauges(mp metric.MeterProvider, st *store.Store) error {
	observe := func(count func(context.Context) (int64, error)) func(context.Context, metric.Int64Observer) error {
		return func(ctx context.Context, o metric.Int64Observer) error {
			n, err := count(ctx)
			if err != nil {
				return err
			}
			o.Observe(n)
			return nil
		}
	}
	if err := countGauge(mp, "flowhook.documents.due",
		"Signed documents of finished work items not fetched yet (in-process at once, else by a job after a grace)", "{document}",
		observe(st.DocumentsDue)); err != nil {
		return err
	}
	if err := countGauge(mp, "flowhook.events.due",
		"Events stored PENDING not processed in-process yet (at once, else by a job after a grace)", "{event}",
		observe(st.EventsDue)); err != nil {
		return err
	}
	return countGauge(mp, "flowhook.creations.due",
		"New work items not created at their provider in-process yet (at once, else by a job after a grace)", "{work_item}",
		observe(st.CreationsDue))
}

// laneCounters report the store's write lanes (store.LaneStats), read at each scrape: the
// batches each lane wrote, the writes in them, and the seconds its writer spent writing. Their
// rates say how well writes are grouped (writes / batches) and whether a lane's one writer is
// what this replica waits on (busy seconds a second near 1).
func laneCounters(mp metric.MeterProvider, st *store.Store) error {
	m := mp.Meter("github.com/flowhook/flowhook/server/internal/app")
	batches, err := m.Int64ObservableCounter("flowhook.group_commit.batches", metric.WithUnit("{batch}"),
		metric.WithDescription("Batches written by the store's write lanes (events: the group commit of notifications; statements: the pipeline of one-statement writes; verdicts: verdicts alone)"))
	if err != nil {
		return err
	}
	writes, err := m.Int64ObservableCounter("flowhook.group_commit.writes", metric.WithUnit("{write}"),
		metric.WithDescription("Writes (notifications, statements) in the batches of the store's write lanes"))
	if err != nil {
		return err
	}
	busy, err := m.Float64ObservableCounter("flowhook.group_commit.busy", metric.WithUnit("s"),
		metric.WithDescription("Time the writer of each of the store's write lanes spent writing its batches"))
	if err != nil {
		return err
	}
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, l := range st.Lanes() {
			lane := metric.WithAttributes(attribute.String("lane", l.Lane))
			o.ObserveInt64(batches, l.Batches, lane)
			o.ObserveInt64(writes, l.Writes, lane)
			o.ObserveFloat64(busy, l.Busy.Seconds(), lane)
		}
		return nil
	}, batches, writes, busy)
	return err
}

func writeStatus(w http.ResponseWriter, code int, status string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"status\":%q}\n", status)
}

// Server returns the hardened http.Server for the handler: HTTP/1.1 and cleartext HTTP/2 (so
// gRPC clients work without TLS), every timeout and the header size bounded.
func (a *App) Server() *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           a.handler,
		Protocols:         &protocols,
		ReadHeaderTimeout: a.cfg.ReadHeaderTimeout,
		ReadTimeout:       a.cfg.ReadTimeout,
		WriteTimeout:      a.cfg.WriteTimeout,
		IdleTimeout:       a.cfg.IdleTimeout,
		MaxHeaderBytes:    a.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
}

// Serve serves on ln until ctx ends, then stops taking connections and drains the requests in
// flight for up to the shutdown timeout. It starts the job queue, then the HTTP server, and
// however it ends (ctx, or the server failing, e.g. on a closed listener) shuts them down in
// one place, in reverse order: the HTTP server, then the queue. The database is Close's; the
// telemetry stays the caller's.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := a.Server()
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	if err := a.queue.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start the job queue: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.InfoContext(ctx, "serving", "addr", ln.Addr().String(), "database", string(a.db.Dialect), "public_url", a.cfg.PublicURL)
	var serveErr error
	select {
	case serveErr = <-errc:
		errc = nil
		a.log.ErrorContext(ctx, "the HTTP server failed: shutting down", "error", serveErr.Error())
	case <-ctx.Done():
		a.log.InfoContext(ctx, "shutting down: draining requests", "timeout", a.cfg.ShutdownTimeout.String())
	}
	return errors.Join(serveErr, a.shutdown(context.WithoutCancel(ctx), srv, errc))
}

// shutdown stops what Serve started, in reverse order, within the shutdown timeout: the HTTP
// server (errc, when not nil, is where its Serve returns), then the job queue, whose jobs in
// progress finish, or are cancelled at the deadline and retried. Every step runs whatever the
// one before said.
func (a *App) shutdown(ctx context.Context, srv *http.Server, errc <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ShutdownTimeout)
	defer cancel()
	start := time.Now()
	var errs []error
	if err := srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shutdown: %w", err))
		_ = srv.Close() // the connections still open at the deadline
	}
	if errc != nil {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if err := a.queue.Stop(ctx); err != nil {
		errs = append(errs, err)
	}
	a.log.InfoContext(ctx, "stopped", "drained_in", time.Since(start).String())
	return errors.Join(errs...)
}
