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
	"runtime/debug"
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
	// RetentionInterval is how often finished instances are erased of the form data and
	// signed documents past their retention (default daily; the leader replica runs it).
	RetentionInterval time.Duration
	// JobTimeout bounds one attempt of a job whose kind sets no timeout of its own (default
	// DefaultJobTimeout): its context is cancelled then, and the attempt fails and is retried.
	JobTimeout time.Duration
	// RescueAfter is how long a job may stay running before the leader's rescuer takes it for
	// the work of a replica that died (kill -9, lost host) and makes it available again
	// (default RescueAfter(JobTimeout)). River refuses a value below JobTimeout.
	RescueAfter time.Duration
	// MarkGrace is how long a signed document or an event stored PENDING may stay due (not
	// handled in-process) before the leader's sweep hands it to a fetch_document or
	// process_event job (default MarkGrace, or the job timeout and a minute when that is
	// longer). A new work item's creation gets its job after CreationGrace instead.
	MarkGrace time.Duration
	// Every job is a span (linked to the span that enqueued it) and is counted and timed.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// DefaultJobTimeout bounds one job attempt: a create makes a few provider calls, each bounded
// by the provider timeout (default 1 min).
const DefaultJobTimeout = 2 * time.Minute

// RescueAfter is when a job still running is taken for lost, for a job timeout: half as long
// again. A job that outlives its timeout on a live replica has had its context cancelled and
// returns within moments, so the margin only keeps the rescuer from racing that return; River
// also never rescues a job before its own kind's timeout (reconcileWorker.Timeout, 30 min),
// whatever this says, so long-running kinds need no handling of their own. A job running on a
// replica that was killed is available again after about RescueAfter plus the rescuer's period
// (30 s, on the leader; a new leader takes up to 15 s) plus the retry backoff (1 s after a
// first attempt) and the scheduler's 5 s: with the defaults about 4 minutes, not River's
// default hour.
func RescueAfter(jobTimeout time.Duration) time.Duration { return jobTimeout + jobTimeout/2 }

// Queue is this process's River client. Before Start it only inserts.
type Queue struct {
	client  *river.Client[*sql.Tx]
	workers *river.Workers
	log     *slog.Logger
	// alarm fires this replica's timers at their deadline (RegisterTimers; nil without).
	alarm *alarm
	// documents fetches the signed documents marked due as they commit (RegisterDocuments;
	// nil without).
	documents *fetcher
	// events processes the events stored PENDING as they commit (RegisterEvents; nil
	// without).
	events *processor
	// creations creates the work items marked due as they commit (RegisterCreations; nil
	// without).
	creations *creations
	// failed counts failed job attempts by kind, in-process creations' too.
	failed metric.Int64Counter
	// running are the in-process loops Start started, which Stop stops first.
	running    []loop
	markGrace  time.Duration
	jobTimeout time.Duration
	meter      metric.Meter
	tracer     trace.Tracer
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
	if o.RetentionInterval <= 0 {
		o.RetentionInterval = 24 * time.Hour
	}
	if o.JobTimeout <= 0 {
		o.JobTimeout = DefaultJobTimeout
	}
	if o.RescueAfter <= 0 {
		o.RescueAfter = RescueAfter(o.JobTimeout)
	}
	if o.MarkGrace <= 0 {
		// Longer than an in-process download may take (it is bounded by the job timeout).
		o.MarkGrace = max(MarkGrace, o.JobTimeout+time.Minute)
	}
	if o.TracerProvider == nil {
		o.TracerProvider = tracenoop.NewTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = metricnoop.NewMeterProvider()
	}
	meter := o.MeterProvider.Meter("github.com/flowhook/flowhook/server/internal/worker")
	failures, err := meter.Int64Counter("flowhook.jobs.failed",
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
		JobTimeout:        o.JobTimeout,
		// River's default is an hour: work a killed replica held would wait that long.
		RescueStuckJobsAfter: o.RescueAfter,
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
			// Innermost, so that the span and the failure count see a panic as the error it
			// becomes.
			&panicRecoverer{log: log},
		},
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(o.PurgeInterval), func() (river.JobArgs, *river.InsertOpts) {
				return engine.PurgeEventLogJob{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: o.PurgeInterval}}
			}, &river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(o.ReconcileInterval), func() (river.JobArgs, *river.InsertOpts) {
				return engine.ReconcileJob{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: o.ReconcileInterval}}
			}, nil),
			river.NewPeriodicJob(river.PeriodicInterval(o.RetentionInterval), func() (river.JobArgs, *river.InsertOpts) {
				return engine.RetentionJob{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: o.RetentionInterval}}
			}, &river.PeriodicJobOpts{RunOnStart: true}),
		},
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("River client: %w", err)
	}
	return &Queue{client: client, workers: workers, log: log, meter: meter, failed: failures, jobTimeout: o.JobTimeout, markGrace: o.MarkGrace,
		tracer: o.TracerProvider.Tracer("github.com/flowhook/flowhook/server/internal/worker")}, nil
}

var _ store.JobInserter = (*Queue)(nil)

// Workers is the bundle to register workers in (Register), before Start.
func (q *Queue) Workers() *river.Workers { return q.workers }

// InsertTx enqueues jobs in the caller's transaction: one statement for any number of them.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, jobs ...engine.Job) error {
	params := make([]river.InsertManyParams, len(jobs))
	for i, job := range jobs {
		args, ok := job.(river.JobArgs)
		if !ok {
			return fmt.Errorf("job %T is not River job arguments", job)
		}
		var opts *river.InsertOpts
		if s, ok := job.(engine.ScheduledJob); ok {
			opts = &river.InsertOpts{ScheduledAt: s.ScheduledAt()}
		}
		if a, ok := job.(engine.AttemptsJob); ok && a.MaxAttempts() > 0 {
			if opts == nil {
				opts = &river.InsertOpts{}
			}
			opts.MaxAttempts = a.MaxAttempts()
		}
		params[i] = river.InsertManyParams{Args: args, InsertOpts: opts}
	}
	switch len(params) {
	case 0:
		return nil
	case 1:
		_, err := q.client.InsertTx(ctx, tx, params[0].Args, params[0].InsertOpts)
		return err
	}
	_, err := q.client.InsertManyTx(ctx, tx, params)
	return err
}

var _ store.CommitWatcher = (*Queue)(nil)

// Committed arms the in-process alarm for the timers that committed, and queues the signed
// documents, the events and the work items' creations marked due for their in-process
// workers.
func (q *Queue) Committed(jobs []engine.Job) {
	for _, j := range jobs {
		switch j := j.(type) {
		case engine.StateTimeoutJob:
			if q.alarm != nil {
				q.alarm.Arm(j)
			}
		case engine.FetchDocumentJob:
			if q.documents != nil {
				q.documents.offer(j)
			}
		case engine.ProcessEventJob:
			if q.events != nil {
				q.events.offer(j)
			}
		case engine.CreateWorkItemJob:
			// Only a creation the store marked due comes with its item; one it gave River
			// (RetryInstance's) is River's alone.
			if q.creations != nil && j.Item != nil {
				q.creations.offer(j)
			}
		}
	}
}

// Start works jobs until Stop.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return err
	}
	if len(q.running) == 0 {
		if q.alarm != nil {
			q.start(ctx, q.alarm.run)
		}
		if q.documents != nil {
			q.start(ctx, q.documents.run)
		}
		if q.events != nil {
			q.start(ctx, q.events.run)
		}
		if q.creations != nil {
			q.start(ctx, q.creations.run)
		}
	}
	return nil
}

// loop is an in-process loop Start started.
type loop struct {
	stop context.CancelFunc
	done chan struct{}
}

// start runs run in a goroutine until Stop.
func (q *Queue) start(ctx context.Context, run func(context.Context)) {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := loop{stop: cancel, done: make(chan struct{})}
	q.running = append(q.running, l)
	go func() {
		defer close(l.done)
		run(lctx)
	}()
}

// stopCancelTimeout bounds the wait for jobs whose context Stop cancelled at its deadline.
const stopCancelTimeout = 10 * time.Second

// Stop stops fetching and waits for the jobs in progress, at most until ctx ends; then it
// cancels those still running and waits for them to return (at most stopCancelTimeout), so
// that no job outlives the queue and the database closes under none. A cancelled job's
// attempt fails and is retried, by any replica, after its backoff. Stop on a queue that was
// never started does nothing.
func (q *Queue) Stop(ctx context.Context) error {
	// Timer firings, fetches and events in progress end with their context; the timers' jobs
	// and the marks left (the sweeps') are the guarantee.
	for _, l := range q.running {
		l.stop()
		<-l.done
	}
	q.running = nil
	err := q.client.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopCancelTimeout)
	defer cancel()
	if cerr := q.client.StopAndCancel(cctx); cerr != nil {
		return fmt.Errorf("stopping the job queue: jobs still running at the deadline did not return once cancelled: %w", errors.Join(err, cerr))
	}
	return fmt.Errorf("stopping the job queue: jobs still running at the deadline were cancelled, to be retried: %w", err)
}

// ErrPanic is the error a job that panicked fails with (and is retried after).
var ErrPanic = errors.New("the job panicked")

// panicRecoverer turns a panic in a job into a failed attempt, logged at ERROR with the job's
// kind, id and stack. River would recover it too (and keep the trace in the job's errors), but
// only outside every middleware, so the span and the failure count would not see it.
type panicRecoverer struct {
	river.MiddlewareDefaults
	log *slog.Logger
}

func (m *panicRecoverer) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			m.log.ErrorContext(ctx, "job panicked", "job_kind", job.Kind, "job_id", job.ID, "attempt", job.Attempt,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrPanic, v)
		}
	}()
	return doInner(ctx)
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
