package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// A finished work item's signed document is fetched in-process, as soon as the resolution that
// marked it due commits (Queue.Committed), not by a River job per document: River's insert,
// fetch and completion of a job cost more than the transition itself (see the store's
// documents.go). The mark in the database is the guarantee: the leader's sweep hands a mark
// still set after DocumentGrace to a fetch_document job, which River retries with backoff.
// So a replica that dies with fetches queued, a full queue, or a provider that fails loses
// nothing; the document comes by the job a little later.

// FetchFunc fetches and keeps a work item's document (engine.Creator.FetchDocument).
type FetchFunc func(ctx context.Context, workItemID string) error

// HandOverFunc enqueues fetch_document jobs for the documents due since before cutoff, at most
// limit, and says how many (store.HandOverDueDocuments).
type HandOverFunc func(ctx context.Context, cutoff time.Time, limit int) (int, error)

const (
	// DocumentGrace is how long a document may stay due before the sweep hands it to a job:
	// longer than one in-process fetch can take (the provider timeout, 1 min by default).
	DocumentGrace = 3 * time.Minute
	// documentSweepInterval is how often the leader sweeps.
	documentSweepInterval = time.Minute
	// documentQueue bounds the fetches waiting in a replica; more are left to the sweep.
	documentQueue = 4096
	// documentFetchers is how many documents a replica fetches at once.
	documentFetchers = 4
	// handOverBatch is how many documents one transaction of the sweep hands over.
	handOverBatch = 500
)

// SweepDocumentsJob is the leader's periodic sweep of the documents still due.
type SweepDocumentsJob struct{}

func (SweepDocumentsJob) Kind() string { return "sweep_documents" }

// RegisterDocuments adds the fetch_document worker (the jobs the sweep enqueues), the periodic
// sweep, and the in-process fetcher that Committed feeds.
func RegisterDocuments(q *Queue, fetch FetchFunc, handOver HandOverFunc) {
	river.AddWorker(q.workers, &fetchWorker{fetch: fetch})
	river.AddWorker(q.workers, &sweepWorker{handOver: handOver, grace: q.documentGrace})
	q.client.PeriodicJobs().Add(river.NewPeriodicJob(river.PeriodicInterval(documentSweepInterval),
		func() (river.JobArgs, *river.InsertOpts) {
			return SweepDocumentsJob{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: documentSweepInterval}}
		}, &river.PeriodicJobOpts{RunOnStart: true}))
	q.documents = &fetcher{fetch: fetch, log: q.log, tracer: q.tracer, timeout: q.jobTimeout,
		ids: make(chan string, documentQueue)}
}

type fetchWorker struct {
	river.WorkerDefaults[engine.FetchDocumentJob]
	fetch FetchFunc
}

func (w *fetchWorker) Work(ctx context.Context, job *river.Job[engine.FetchDocumentJob]) error {
	return w.fetch(ctx, job.Args.WorkItemID)
}

type sweepWorker struct {
	river.WorkerDefaults[SweepDocumentsJob]
	handOver HandOverFunc
	grace    time.Duration
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepDocumentsJob]) error {
	cutoff := time.Now().Add(-w.grace)
	for {
		n, err := w.handOver(ctx, cutoff, handOverBatch)
		if err != nil || n < handOverBatch {
			return err
		}
	}
}

// fetcher fetches the documents that committed due, a few at a time.
type fetcher struct {
	fetch   FetchFunc
	log     *slog.Logger
	tracer  trace.Tracer
	timeout time.Duration
	ids     chan string
}

// offer queues a work item's document; when the queue is full, or the fetcher is not
// running, the sweep's job fetches it.
func (f *fetcher) offer(workItemID string) {
	select {
	case f.ids <- workItemID:
	default:
	}
}

// run fetches until ctx ends; what is still queued then is left to the sweep.
func (f *fetcher) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range documentFetchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-f.ids:
					f.one(ctx, id)
				}
			}
		}()
	}
	wg.Wait()
}

func (f *fetcher) one(ctx context.Context, workItemID string) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	ctx, span := f.tracer.Start(ctx, "fetch_document", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("flowhook.work_item_id", workItemID), attribute.String("flowhook.fetch.path", "inprocess")))
	defer span.End()
	if err := f.fetch(ctx, workItemID); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "left to the sweep's job")
		if ctx.Err() == nil {
			f.log.WarnContext(ctx, "fetching a signed document failed; a job will fetch it", "work_item_id", workItemID, "error", err.Error())
		}
	}
}
