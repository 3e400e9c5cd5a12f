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
