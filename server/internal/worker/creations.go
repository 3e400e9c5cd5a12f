package worker

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// A new work item is created at its provider in-process, as soon as the write that entered
// its EXTERNAL state commits (Queue.Committed), not by a River job per work item: River's
// insert, fetch and completion of a job were a fifth of PostgreSQL's statement time for a start
// into an EXTERNAL state, and creating in-process made 22–53% more of those starts a second
// (see the store's creations.go). The mark in the database is the guarantee: a creation that
// fails, or that Stop interrupts, is handed to a create_work_item job, which looks for the item
// by our id before creating one, so an item whose provider answered but whose coupling never
// committed is found, not created again; that job runs a while later (creationRetryDelay), so
// that the provider has finished what the attempt abandoned when it looks; one the full queue
// did not take, or still queued when Stop came, goes to a job at once (that job creates
// without looking: nothing reached the provider); and the leader's sweep hands a mark still set after
// CreationGrace (the replica died) to a job that looks first.

// CreationPorts are what the work items' in-process creation needs.
type CreationPorts struct {
	// Create creates a work item whose first write committed, as that write gave it
	// (engine.Creator.CreateCommitted).
	Create func(ctx context.Context, job engine.CreateWorkItemJob) error
	// HandOver gives the work items still due their create_work_item jobs; retried when an
	// in-process attempt may have reached the provider, to run not before notBefore (zero: at
	// once) (store.HandOverCreations).
	HandOver func(ctx context.Context, retried bool, notBefore time.Time, workItemIDs ...string) error
	// HandOverDue is the sweep's (store.HandOverDueCreations).
	HandOverDue HandOverFunc
}

const (
	// creationWorkers is how many work items a replica creates at once (as many as River's
	// workers): each waits mostly on its provider (a DocuSign envelope with its document takes
	// a second or more).
	creationWorkers = 20
	// creationQueue bounds the creations waiting in a replica; more are handed to jobs at once,
	// as a burst of starts would otherwise wait for the sweep.
	creationQueue = 4096
	// overflowMax bounds the creations waiting to be handed over (only while nothing hands them
	// over: the queue not running); more are left to the sweep.
	overflowMax = 100_000
	// creationSweepInterval is how often the leader sweeps: more often than for documents or
	// events, as a creation a dead replica held is what a person waits for (the envelope to
	// sign in their inbox); the sweep reads a partial index that is empty but for those.
	creationSweepInterval = 15 * time.Second
	// handOverTimeout bounds one hand-over (of what failed, what the full queue did not take,
	// what a stopping replica did not create).
	handOverTimeout = 10 * time.Second
	// creationRetryMin and creationRetryMax bound creationRetryDelay.
	creationRetryMin = 10 * time.Second
	creationRetryMax = time.Minute
)

// creationRetryDelay is how long a work item's creation waits, after an attempt that may have
// reached its provider failed having run for ran, before it is tried again (looking for the
// item by our id first): as long again as the attempt ran, at least creationRetryMin and at
// most creationRetryMax. A provider does not stop when flowhook stops waiting: a request that
// Stop cancelled (a rolling deploy), that timed out, or that a gateway answered 504 may still
// become an envelope seconds later (DocuSign's creation of an envelope with its document takes
// seconds, more when it is slow, and its listing may lag), and a lookup before then misses it
// and creates a second one: the signer is emailed twice. A request that ran long met a slow
// provider, and is given as long again as flowhook gave it: with the default timeouts (a
// provider call cut at a minute, an attempt at two) that is the cap, and with a short job
// timeout (the soak's 10 s) the timeout. One cut short (Stop, a reset connection) still waits
// the floor. The cap is a person waiting for the envelope in their inbox; River's scheduler,
// which makes a scheduled job available, adds up to 5 s. Both the in-process hand-over (the
// job's scheduled_at) and the create_work_item job's own retries (createWorker.NextRetry) wait
// so; the sweep's hand-over does not: its mark is older than CreationGrace.
func creationRetryDelay(ran time.Duration) time.Duration {
	return min(max(ran, creationRetryMin), creationRetryMax)
}

// SweepCreationsJob is the leader's periodic sweep of the work items whose creation is still
// due.
type SweepCreationsJob struct{}

func (SweepCreationsJob) Kind() string { return "sweep_creations" }

// RegisterCreations adds the periodic sweep and the in-process creation that Committed feeds.
// (The create_work_item worker itself is Register's.)
func RegisterCreations(q *Queue, p CreationPorts) {
	addSweep(q, SweepCreationsJob{}, p.HandOverDue, creationSweepInterval, CreationGrace(q.jobTimeout))
	q.creations = &creations{p: p, log: q.log, tracer: q.tracer, timeout: q.jobTimeout, failed: q.failed,
		jobs: make(chan engine.CreateWorkItemJob, creationQueue), wake: make(chan struct{}, 1)}
}

// CreationGrace is how long a creation may stay due before the sweep hands it to a job: twice
// the job timeout (4 min by default). A job must never take over a creation still running
// in-process: it could look for the item by our id before the creation made it, and make a
// second. So an in-process creation starts only within a job timeout of its commit (a later
// one, behind a long queue, is handed over instead) and is bounded by the job timeout: it has
// ended before the sweep may take its mark.
func CreationGrace(jobTimeout time.Duration) time.Duration { return 2 * jobTimeout }

// creations creates the work items that committed due, creationWorkers at a time.
type creations struct {
	p       CreationPorts
	log     *slog.Logger
	tracer  trace.Tracer
	timeout time.Duration
	failed  metric.Int64Counter
	jobs    chan engine.CreateWorkItemJob
	// overflow holds the creations the full queue did not take, until run hands them over;
	// wake says there are some.
	mu       sync.Mutex
	overflow []string
	wake     chan struct{}
}

// offer queues a committed creation; when the queue is full, it is handed to a job at once
// (by run), not left to the sweep.
func (c *creations) offer(job engine.CreateWorkItemJob) {
	select {
	case c.jobs <- job:
		return
	default:
	}
	c.mu.Lock()
	if len(c.overflow) < overflowMax {
		c.overflow = append(c.overflow, job.WorkItemID)
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// takeOverflow empties the overflow.
func (c *creations) takeOverflow() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.overflow
	c.overflow = nil
	return out
}

// run creates until ctx ends, handing what the queue could not take to jobs as it comes; then
// it hands what is still queued to jobs.
func (c *creations) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.wake:
				c.handOverNew(ctx, c.takeOverflow())
			}
		}
	})
	for range creationWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-c.jobs:
					if ctx.Err() != nil { // both were ready: stopping wins
						c.handOver(ctx, false, time.Time{}, job.WorkItemID)
						return
					}
					c.create(ctx, job)
				}
			}
		})
	}
	wg.Wait()
	// Stopping: another replica (or this one, started again) creates them now, not after the
	// sweep's grace.
	left := c.takeOverflow()
	for {
		select {
		case job := <-c.jobs:
			left = append(left, job.WorkItemID)
			continue
		default:
		}
		break
	}
	c.handOverNew(ctx, left)
}

// handOverNew hands creations never started in-process to jobs, handOverBatch in one
// transaction: nothing reached the provider, so the jobs create without looking first.
func (c *creations) handOverNew(ctx context.Context, ids []string) {
	for len(ids) > 0 {
		n := min(len(ids), handOverBatch)
		c.handOver(ctx, false, time.Time{}, ids[:n]...)
		ids = ids[n:]
	}
}

// create creates one work item; what it cannot finish it hands to a job.
func (c *creations) create(ctx context.Context, job engine.CreateWorkItemJob) {
	if job.Item == nil || time.Since(job.Item.CreatedAt) > c.timeout {
		// Too late to start (see CreationGrace): the item was written before its mark, so
		// this errs on the side of the job.
		c.log.WarnContext(ctx, "a work item waited too long to be created in-process; a job will create it",
			"work_item_id", job.WorkItemID)
		if job.Item != nil {
			ctx = withCreator(ctx, job.Item.Traceparent) // the job's insert, in the transition's trace
		}
		c.handOver(ctx, false, time.Time{}, job.WorkItemID)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// The span a job's run would be (River's middleware makes one), linked as the job's
	// would be to the transition that entered the state.
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("flowhook.work_item_id", job.WorkItemID), attribute.String("flowhook.create.path", engine.PathInProcess))}
	opts = append(opts, linkToCreator(job.Item.Traceparent)...)
	cctx, span := c.tracer.Start(cctx, job.Kind(), opts...)
	began := time.Now()
	err := c.try(cctx, job)
	ran := time.Since(began)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "handed to a job")
	}
	span.End()
	if err == nil {
		return
	}
	c.failed.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", job.Kind())))
	if ctx.Err() == nil {
		c.log.WarnContext(ctx, "creating a work item failed; a job will retry it, looking for it by our id first",
			"work_item_id", job.WorkItemID, "error", err.Error())
	}
	// Stop's cancellation too: the request it cut may still be creating the item. The job's
	// insert belongs to the attempt's trace (which links to the transition), so that the
	// job's run can be followed from it.
	c.handOver(trace.ContextWithSpan(ctx, span), true, time.Now().Add(creationRetryDelay(ran)), job.WorkItemID)
}

// handOver gives work items still due their jobs (retried: an attempt may have reached the
// provider), to run not before notBefore (zero: at once), also while the replica stops (the
// database is open until the queue has stopped); what it cannot hand over is the sweep's.
func (c *creations) handOver(ctx context.Context, retried bool, notBefore time.Time, ids ...string) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handOverTimeout)
	defer cancel()
	if err := c.p.HandOver(hctx, retried, notBefore, ids...); err != nil {
		c.log.WarnContext(ctx, "handing work items to their create jobs failed; the sweep will", "work_items", len(ids), "error", err.Error())
	}
}

// try creates the work item, a panic becoming its error (and the item a job's), as a job's
// would.
func (c *creations) try(ctx context.Context, job engine.CreateWorkItemJob) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.ErrorContext(ctx, "creating a work item panicked", "work_item_id", job.WorkItemID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrPanic, v)
		}
	}()
	return c.p.Create(ctx, job)
}

// linkToCreator is the span option linking to the transition that created a work item (its
// W3C traceparent), as the webhook's processing span links: none without a valid one.
func linkToCreator(traceparent string) []trace.SpanStartOption {
	created := creatorSpan(traceparent)
	if !created.IsValid() {
		return nil
	}
	return []trace.SpanStartOption{trace.WithLinks(trace.Link{SpanContext: created,
		Attributes: []attribute.KeyValue{attribute.String("flowhook.link", "work_item.created")}})}
}

// withCreator is ctx in the trace of the transition that created a work item (its W3C
// traceparent), when it has a valid one.
func withCreator(ctx context.Context, traceparent string) context.Context {
	if created := creatorSpan(traceparent); created.IsValid() {
		return trace.ContextWithRemoteSpanContext(ctx, created)
	}
	return ctx
}

func creatorSpan(traceparent string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(),
		propagation.MapCarrier{"traceparent": traceparent}))
}
