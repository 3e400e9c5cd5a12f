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
// still set after MarkGrace to a fetch_document job, which River retries with backoff.
// So a replica that dies with fetches queued, a full queue, or a provider that fails loses
// nothing; the document comes by the job a little later.

// FetchFunc fetches and keeps a work item's document (engine.Creator.FetchDocument): the job's.
type FetchFunc func(ctx context.Context, workItemID string) error

// HandOverFunc enqueues fetch_document jobs for the documents due since before cutoff, at most
// limit, and says how many (store.HandOverDueDocuments).
type HandOverFunc func(ctx context.Context, cutoff time.Time, limit int) (int, error)

// DocumentPorts are what the documents' fetch needs.
type DocumentPorts struct {
	// Fetch is the fetch_document job's work (engine.Creator.FetchDocument).
	Fetch FetchFunc
	// Download brings a committed job's document from its provider, nil when there is none
	// to keep (engine.Creator.DownloadFor).
	Download func(ctx context.Context, job engine.FetchDocumentJob) (*engine.SignedDocument, error)
	// Save keeps documents and clears their marks, several in one statement
	// (store.SaveDocuments); Clear clears the mark of a work item with none
	// (store.ClearDocumentDue).
	Save  func(ctx context.Context, docs []engine.SignedDocument) error
	Clear func(ctx context.Context, workItemID string) error
	// HandOver is the sweep's (store.HandOverDueDocuments).
	HandOver HandOverFunc
}

const (
	// MarkGrace is the least time a document or an event may stay due before the sweep
	// hands it to a job; the grace is the job timeout and a minute when that is longer (what
	// one in-process fetch or processing may take, bounded by the job timeout): 3 min by
	// default.
	MarkGrace = time.Minute
	// documentSweepInterval is how often the leader sweeps.
	documentSweepInterval = time.Minute
	// documentQueue bounds the fetches waiting in a replica; more are left to the sweep.
	documentQueue = 4096
	// documentFetchers is how many documents a replica downloads at once.
	documentFetchers = 4
	// saveBatch is how many downloaded documents one statement keeps at most.
	saveBatch = 64
	// handOverBatch is how many documents one transaction of the sweep hands over.
	handOverBatch = 500
)

// SweepDocumentsJob is the leader's periodic sweep of the documents still due.
type SweepDocumentsJob struct{}

func (SweepDocumentsJob) Kind() string { return "sweep_documents" }

// RegisterDocuments adds the fetch_document worker (the jobs the sweep enqueues), the periodic
// sweep, and the in-process fetcher that Committed feeds.
func RegisterDocuments(q *Queue, p DocumentPorts) {
	river.AddWorker(q.workers, &fetchWorker{fetch: p.Fetch})
	addSweep(q, SweepDocumentsJob{}, p.HandOver, documentSweepInterval, q.markGrace)
	q.documents = newFetcher(p, q.log, q.tracer, q.jobTimeout)
}

type fetchWorker struct {
	river.WorkerDefaults[engine.FetchDocumentJob]
	fetch FetchFunc
}

func (w *fetchWorker) Work(ctx context.Context, job *river.Job[engine.FetchDocumentJob]) error {
	return w.fetch(ctx, job.Args.WorkItemID)
}

// addSweep registers the leader's periodic sweep job of one kind of mark, every interval and as
// the queue starts. Not unique by period, unlike the purge: a new leader (a replica started
// after another stopped) sweeps at once, not at the next interval, and a second sweep is
// harmless.
func addSweep[T river.JobArgs](q *Queue, job T, handOver HandOverFunc, interval, grace time.Duration) {
	river.AddWorker(q.workers, &sweepWorker[T]{handOver: handOver, grace: grace})
	q.client.PeriodicJobs().Add(river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return job, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
}

// sweepWorker is a leader's periodic sweep of marks (documents due, events due): it hands those
// older than the grace to jobs, batch after batch while they come full.
type sweepWorker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	handOver HandOverFunc
	grace    time.Duration
}

func (w *sweepWorker[T]) Work(ctx context.Context, _ *river.Job[T]) error {
	cutoff := time.Now().Add(-w.grace)
	for {
		n, err := w.handOver(ctx, cutoff, handOverBatch)
		if err != nil || n < handOverBatch {
			return err
		}
	}
}

// fetcher fetches the documents that committed due: a few downloads at a time, and one
// goroutine that keeps what they bring, several documents in one statement.
type fetcher struct {
	p       DocumentPorts
	log     *slog.Logger
	tracer  trace.Tracer
	timeout time.Duration
	jobs    chan engine.FetchDocumentJob
	docs    chan engine.SignedDocument
}

func newFetcher(p DocumentPorts, log *slog.Logger, tracer trace.Tracer, timeout time.Duration) *fetcher {
	return &fetcher{p: p, log: log, tracer: tracer, timeout: timeout,
		jobs: make(chan engine.FetchDocumentJob, documentQueue), docs: make(chan engine.SignedDocument, saveBatch)}
}

// offer queues a committed job; when the queue is full, or the fetcher is not running, the
// sweep's job fetches its document.
func (f *fetcher) offer(job engine.FetchDocumentJob) {
	select {
	case f.jobs <- job:
	default:
	}
}

// run fetches until ctx ends; what is still queued or downloaded then is left to the sweep.
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
				case job := <-f.jobs:
					f.download(ctx, job)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.save(ctx)
	}()
	wg.Wait()
}

// download brings one document and hands it to the saver.
func (f *fetcher) download(ctx context.Context, job engine.FetchDocumentJob) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("flowhook.work_item_id", job.WorkItemID), attribute.String("flowhook.fetch.path", engine.PathInProcess))}
	if job.Item != nil {
		opts = append(opts, linkToCreator(job.Item.Traceparent)...)
	}
	ctx, span := f.tracer.Start(ctx, "fetch_document", opts...)
	defer span.End()
	doc, err := f.p.Download(ctx, job)
	if err == nil && doc == nil {
		err = f.p.Clear(ctx, job.WorkItemID)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "left to the sweep's job")
		if ctx.Err() == nil {
			f.log.WarnContext(ctx, "fetching a signed document failed; a job will fetch it", "work_item_id", job.WorkItemID, "error", err.Error())
		}
		return
	}
	if doc != nil {
		select {
		case f.docs <- *doc:
		case <-ctx.Done():
		}
	}
}

// save keeps the downloaded documents, as many as are ready (at most saveBatch) in one
// statement, until ctx ends.
func (f *fetcher) save(ctx context.Context) {
	batch := make([]engine.SignedDocument, 0, saveBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-f.docs:
			batch = append(batch[:0], d)
		}
	more:
		for len(batch) < saveBatch {
			select {
			case d := <-f.docs:
				batch = append(batch, d)
			default:
				break more
			}
		}
		sctx, cancel := context.WithTimeout(ctx, f.timeout)
		if err := f.p.Save(sctx, batch); err != nil && ctx.Err() == nil {
			f.log.WarnContext(ctx, "keeping signed documents failed; jobs will fetch them", "documents", len(batch), "error", err.Error())
		}
		cancel()
	}
}
