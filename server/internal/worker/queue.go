// Package worker runs flowhook's background jobs on River: creating work items at their
// providers, processing inbound webhook events, voiding cancelled work items and fetching
// signed documents. Jobs are inserted by the store in the same transaction as the change that
// needs them (Queue.InsertTx), so a job exists exactly when its cause committed.
package worker

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// Options tune the queue.
type Options struct {
	// MaxWorkers bounds the jobs worked at once by this process.
	MaxWorkers int
	// FetchPollInterval is how often to look for jobs when no notification says there are
	// some (SQLite, or a missed notification).
	FetchPollInterval time.Duration
	// FetchCooldown is the least time between two fetches (River's default, 100 ms, would cap
	// a busy server's latency; webhooks are also applied inline, so the job is a fallback).
	FetchCooldown time.Duration
	// PurgeInterval is how often the Event Log is purged of what is past its retention
	// (default hourly; the leader replica runs it).
	PurgeInterval time.Duration
	// ReconcileInterval is how often work items still waiting are checked at their provider
	// (default 6 hours; the leader replica runs it).
	ReconcileInterval time.Duration
	// Every job is a span (linked to the span that enqueued it) and is counted and timed.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// Queue is this process's River client. Before Start it only inserts.
type Queue struct {
	client  *river.Client[*sql.Tx]
	workers *river.Workers
	log     *slog.Logger
}

// New returns the queue over the database: River's database/sql driver (with pgx LISTEN for
// prompt fetches) on PostgreSQL, its SQLite driver on the embedded database.
func New(db *store.DB, log *slog.Logger, o Options) (*Queue, error) {
	var driver riverdriver.Driver[*sql.Tx]
	if db.Dialect == store.Postgres {
		driver = riverdatabasesql.NewWithPgxListener(db.SQL, db.Pool)
	} else {
		driver = riversqlite.New(db.SQL)
	}
	workers := river.NewWorkers()
	if o.MaxWorkers <= 0 {
		o.MaxWorkers = 20
	}
	if o.PurgeInterval <= 0 {
		o.PurgeInterval = time.Hour
	}
	if o.ReconcileInterval <= 0 {
		o.ReconcileInterval = 6 * time.Hour
	}
	if o.TracerProvider == nil {
		o.TracerProvider = tracenoop.NewTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = metricnoop.NewMeterProvider()
	}
	failures, err := o.MeterProvider.Meter("github.com/flowhook/flowhook/server/internal/worker").Int64Counter("flowhook.jobs.failed",
		metric.WithDescription("Job attempts that failed (they are retried with backoff until their last attempt), by kind"),
		metric.WithUnit("{attempt}"))
	if err != nil {
		return nil, err
	}
	cfg := &river.Config{
		Logger:            log.With("component", "river"),
		Workers:           workers,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.MaxWorkers}},
		FetchPollInterval: o.FetchPollInterval,
		FetchCooldown:     o.FetchCooldown,
		PollOnly:          db.Dialect != store.Postgres,
		MaxAttempts:       25,
		JobTimeout:        2 * time.Minute,
		// Jobs whose worker a later change adds are kept, not refused, by older replicas.
		SkipUnknownJobCheck: true,
		Middleware: []rivertype.Middleware{
			otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
				TracerProvider:              o.TracerProvider,
				MeterProvider:               o.MeterProvider,
				EnableTracePropagation:      true,
				EnableWorkSpanJobKindSuffix: true,
			}),
			&failureCounter{failed: failures},
		},
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(o.PurgeInterval), func() (river.JobArgs, *river.InsertOpts) {
				return engine.PurgeEventLogJob{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: o.PurgeInterval}}
			}, &river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(o.ReconcileInterval), func() (river.JobArgs, *river.InsertOpts) {
				return engine.ReconcileJob{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: o.ReconcileInterval}}
			}, nil),
		},
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("River client: %w", err)
	}
	return &Queue{client: client, workers: workers, log: log}, nil
}

var _ store.JobInserter = (*Queue)(nil)

// Workers is the bundle to register workers in (Register), before Start.
func (q *Queue) Workers() *river.Workers { return q.workers }

// InsertTx enqueues a job in the caller's transaction.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, job engine.Job) error {
	args, ok := job.(river.JobArgs)
	if !ok {
		return fmt.Errorf("job %T is not River job arguments", job)
	}
	_, err := q.client.InsertTx(ctx, tx, args, nil)
	return err
}

// Start works jobs until Stop.
func (q *Queue) Start(ctx context.Context) error { return q.client.Start(ctx) }

// Stop stops fetching and waits for the jobs in progress, at most until ctx ends.
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stopping the job queue: jobs still running at the deadline: %w", err)
	}
	return err
}

// failureCounter counts failed job attempts by kind (a snooze or a cancel is not a failure).
type failureCounter struct {
	river.MiddlewareDefaults
	failed metric.Int64Counter
}

func (m *failureCounter) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	err := doInner(ctx)
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	if err != nil && !errors.As(err, &snooze) && !errors.As(err, &cancel) {
		m.failed.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", job.Kind)))
	}
	return err
}
