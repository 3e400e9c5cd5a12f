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
	"golang.org/x/sync/semaphore"

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
	// saveBytes is how much content one statement keeps at most, unless one document is
	// larger (it is kept alone). PostgreSQL refuses a value over 1 GB, and the statement binds
	// all the content as one bytea[]: 16 documents at the providers' 64 MB cap would reach
	// it. Signed PDFs are mostly under a megabyte, so a batch of small ones is still one
	// statement of up to saveBatch.
	saveBytes = 64 << 20
	// handOverBatch is how many documents one transaction of the sweep hands over.
	handOverBatch = 500
)

// SweepDocumentsJob is the leader's periodic sweep of the documents still due.
type SweepDocumentsJob struct{}

func (SweepDocumentsJob) Kind() string { return "sweep_documents" }

// RegisterDocuments adds the fetch_document worker (the jobs the sweep enqueues), the periodic
// sweep, and the in-process fetcher that Committed feeds.
func RegisterDocuments(q *Queue, p DocumentPorts) {
	river.AddWorker(q.workers, &fetchWorker{fetch: p.Fetch, log: q.log})
	addSweep(q, SweepDocumentsJob{}, p.HandOver, documentSweepInterval, q.markGrace)
	q.documents = newFetcher(p, q.log, q.tracer, q.jobTimeout, q.markGrace)
}

type fetchWorker struct {
	river.WorkerDefaults[engine.FetchDocumentJob]
	fetch FetchFunc
	log   *slog.Logger
}

// Work fetches the document. Its last attempt failing (River's 25, three weeks of backoff: a
// credential an administrator never mended, say) is said at WARN: River discards the job, and
// nothing fetches the document again.
func (w *fetchWorker) Work(ctx context.Context, job *river.Job[engine.FetchDocumentJob]) error {
	err := w.fetch(ctx, job.Args.WorkItemID)
	if err != nil && job.Attempt >= job.MaxAttempts && ctx.Err() == nil {
		w.log.WarnContext(ctx, "fetching a signed document failed on its last attempt; it is not fetched again",
			"work_item_id", job.Args.WorkItemID, "attempts", job.Attempt, "error", err.Error())
	}
	return err
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
//
// What a replica holds is bounded: documentFetchers downloads (each up to the provider's cap
// on a document, 64 MB by default), and the content downloaded and not kept yet (held: the
// batch being kept and as much again waiting for it), whatever the count of documents.
type fetcher struct {
	p       DocumentPorts
	log     *slog.Logger
	tracer  trace.Tracer
	timeout time.Duration
	// fresh is how long a job may wait in the queue and still be downloaded (freshFor).
	fresh time.Duration
	now   func() time.Time
	jobs  chan offered
	docs  chan engine.SignedDocument
	// saveBytes bounds the content of one statement; held, the content downloaded and not
	// kept yet (a download waits for room before it hands its document to the saver).
	saveBytes int64
	held      *semaphore.Weighted
	heldBytes int64
}

// offered is a committed job and when it was offered.
type offered struct {
	job engine.FetchDocumentJob
	at  time.Time
}

// freshFor is how long a job may wait in the queue and still be downloaded in-process: the
// grace less the download's timeout. The sweep may hand a mark over from grace after it was
// set; the offer comes as the mark commits, a moment later. A download taken within
// grace − timeout of its offer ends (its context's timeout) before the sweep may take the
// mark, so it never runs beside the sweep's job; one that waited longer is dropped, its mark
// left for the sweep's job to fetch once. Downloading it anyway would spend the provider's
// API quota twice (DocuSign's hourly limit, which envelope creation shares) for a second save
// that ON CONFLICT drops. With the defaults (timeout 2 min, grace 3 min) a job is downloaded
// if it waited less than a minute: in a burst, what 4 downloaders do not reach within a
// minute goes to River's jobs, which more workers run. The edge is not exact (the mark's
// commit and the save take a moment, the leader's clock is another's): a download that takes
// its whole timeout right at the limit may still meet the sweep's job, and ON CONFLICT keeps
// the first document. A grace no longer than the timeout (only tests set one) leaves every
// document to the sweep.
func freshFor(grace, timeout time.Duration) time.Duration { return grace - timeout }

func newFetcher(p DocumentPorts, log *slog.Logger, tracer trace.Tracer, timeout, grace time.Duration) *fetcher {
	f := &fetcher{p: p, log: log, tracer: tracer, timeout: timeout, fresh: freshFor(grace, timeout), now: time.Now,
		jobs: make(chan offered, documentQueue), docs: make(chan engine.SignedDocument, saveBatch)}
	f.bound(saveBytes)
	return f
}

// bound sets the content one statement keeps (n) and the content held: twice that, a batch
// being kept and the next.
func (f *fetcher) bound(n int64) {
	f.saveBytes, f.heldBytes = n, 2*n
	f.held = semaphore.NewWeighted(f.heldBytes)
}

// offer queues a committed job, stamped with the time; when the queue is full, or the
// fetcher is not running, the sweep's job fetches its document.
func (f *fetcher) offer(job engine.FetchDocumentJob) {
	select {
	case f.jobs <- offered{job: job, at: f.now()}:
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
				case o := <-f.jobs:
					// One that waited too long is left to the sweep (freshFor).
					if f.now().Sub(o.at) < f.fresh {
						f.download(ctx, o.job)
					}
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
		f.hold(ctx, *doc)
	}
}

// weight is what a document counts against held: its size, or all of held for one larger,
// which then waits until nothing else is held.
func (f *fetcher) weight(d engine.SignedDocument) int64 {
	return min(int64(len(d.Content)), f.heldBytes)
}

// hold hands a downloaded document to the saver once what is held leaves room for it; false
// when ctx ends first (the sweep's job fetches it then).
func (f *fetcher) hold(ctx context.Context, d engine.SignedDocument) bool {
	n := f.weight(d)
	if f.held.Acquire(ctx, n) != nil {
		return false
	}
	select {
	case f.docs <- d:
		return true
	case <-ctx.Done():
		f.held.Release(n)
		return false
	}
}

// save keeps the downloaded documents, as many as are ready in one statement (at most
// saveBatch, and saveBytes of content unless the first alone is larger), until ctx ends. A
// document that would take a batch over saveBytes starts the next one.
func (f *fetcher) save(ctx context.Context) {
	batch := make([]engine.SignedDocument, 0, saveBatch)
	var next engine.SignedDocument
	hasNext := false
	for {
		batch = batch[:0]
		if hasNext {
			batch, hasNext = append(batch, next), false
		} else {
			select {
			case <-ctx.Done():
				return
			case d := <-f.docs:
				batch = append(batch, d)
			}
		}
		size := int64(len(batch[0].Content))
	more:
		for len(batch) < saveBatch && size < f.saveBytes {
			select {
			case d := <-f.docs:
				if size+int64(len(d.Content)) > f.saveBytes {
					next, hasNext = d, true
					break more
				}
				batch = append(batch, d)
				size += int64(len(d.Content))
			default:
				break more
			}
		}
		sctx, cancel := context.WithTimeout(ctx, f.timeout)
		if err := f.p.Save(sctx, batch); err != nil && ctx.Err() == nil {
			f.log.WarnContext(ctx, "keeping signed documents failed; jobs will fetch them", "documents", len(batch), "error", err.Error())
		}
		cancel()
		var held int64
		for _, d := range batch {
			held += f.weight(d)
		}
		f.held.Release(held)
	}
}
