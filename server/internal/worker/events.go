package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// An event stored PENDING (a OneSpan callback to read back, an event whose work item is not
// coupled yet) is processed in-process as soon as its insert commits (Queue.Committed), not
// by a River job per event: River's insert, fetch and completion of a job, with the read of
// the event, cost a third of PostgreSQL's time for a OneSpan completion (see the store's
// events.go). The mark in the database is the guarantee: an event whose work item is not
// coupled yet waits in memory for its coupling (notCoupledWaits); what in-process processing
// cannot finish (ErrRetryLater: still not coupled after the waits, an earlier callback waits;
// a failure) is handed to a process_event job at once, which River snoozes and retries as
// before. What the full queue does not take (a burst: thousands of work items created at
// once, each with its provider's first notification) waits by its id and is queued as room
// frees, rather than for the sweep's grace or a River job each. The leader's sweep hands a
// mark still set after MarkGrace (the replica died) to a job. So nothing is stranded.

// EventPorts are what the events' in-process processing needs.
type EventPorts struct {
	// Process processes an event whose write committed, as that write stored it (and from
	// what it read for it) when given, else read by its id (engine.External.ProcessCommitted).
	Process func(ctx context.Context, job engine.ProcessEventJob) (engine.Verdict, error)
	// HandOver gives an event still due its process_event job (store.HandOverEvent).
	HandOver func(ctx context.Context, eventID string) error
	// HandOverDue is the sweep's (store.HandOverDueEvents).
	HandOverDue HandOverFunc
}

const (
	// eventWorkers is how many events a replica processes at once: each waits mostly on the
	// provider's read-back and the database.
	eventWorkers = 8
	// eventQueue bounds the events waiting in a replica with their content (and those waiting
	// behind one of their item); more wait by their id (overflowMax of them), read when
	// processed.
	eventQueue = 4096
	// eventSweepInterval is how often the leader sweeps.
	eventSweepInterval = time.Minute
)

// SweepEventsJob is the leader's periodic sweep of the events still due.
type SweepEventsJob struct{}

func (SweepEventsJob) Kind() string { return "sweep_events" }

// RegisterEvents adds the periodic sweep and the in-process processing that Committed feeds.
// (The process_event worker itself is Register's.)
func RegisterEvents(q *Queue, p EventPorts) {
	addSweep(q, SweepEventsJob{}, p.HandOverDue, eventSweepInterval, q.markGrace)
	q.events = newProcessor(p, q.log, q.tracer, q.jobTimeout)
}

// processor processes the events that committed due, eventWorkers at a time, and the events
// of one work item one after the other, in the order they committed: while one is processed,
// the next of its item wait behind it (not in the queue, where they would hold a worker).
type processor struct {
	p       EventPorts
	log     *slog.Logger
	tracer  trace.Tracer
	timeout time.Duration
	jobs    chan engine.ProcessEventJob
	mu      sync.Mutex
	// busy holds the items with an event queued or being processed, and the events waiting
	// behind it.
	busy map[string][]engine.ProcessEventJob
	// overflow holds the ids of the events the full queue did not take, until run queues
	// them; wake says there are some.
	overflow []string
	wake     chan struct{}
	// waits are how long an event whose work item is not coupled yet (engine.ErrNotCoupled)
	// waits in memory before it is tried again, once each; after the last it is handed to its
	// job. waiting holds the timers of the events waiting so.
	waits   []time.Duration
	waiting map[string]*time.Timer
}

// notCoupledWaits are the processor's waits. A provider that notifies as it creates an item
// (a connector's ticket.created, DocuSign's envelope-sent) usually beats our coupling by a few
// milliseconds. The coupling marks the event due again when it commits, and it is processed
// then; the waits only matter when the coupling missed it (the event committed while the
// coupling's statement ran) or never comes (the creation failed, the replica died), when the
// job's snoozes take over. Handing every early event to its job at once cost a transaction, a
// River job and its run per start into an EXTERNAL state at light load.
var notCoupledWaits = []time.Duration{time.Second, 5 * time.Second}

func newProcessor(p EventPorts, log *slog.Logger, tracer trace.Tracer, timeout time.Duration) *processor {
	return &processor{p: p, log: log, tracer: tracer, timeout: timeout, jobs: make(chan engine.ProcessEventJob, eventQueue),
		busy: map[string][]engine.ProcessEventJob{}, wake: make(chan struct{}, 1),
		waits: notCoupledWaits, waiting: map[string]*time.Timer{}}
}

// itemOf is the key of an event's work item (its system and external id), or of the event
// itself when the commit did not give it.
func itemOf(job engine.ProcessEventJob) string {
	if ev := job.Event; ev != nil {
		return ev.Event.System.String() + "\x00" + ev.Event.ExternalID
	}
	return job.EventID
}

// offer queues a committed event, behind the one of its item in progress if there is one;
// when the queue is full, it waits by its id for run to queue it as room frees.
func (pr *processor) offer(job engine.ProcessEventJob) {
	key := itemOf(job)
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if t, ok := pr.waiting[job.EventID]; ok {
		// Its coupling committed (or a replay): the wait is over.
		t.Stop()
		delete(pr.waiting, job.EventID)
	}
	if waiting, ok := pr.busy[key]; ok {
		if len(waiting) < eventQueue {
			pr.busy[key] = append(waiting, job)
			return
		}
	} else {
		select {
		case pr.jobs <- job:
			pr.busy[key] = nil
			return
		default:
		}
	}
	if len(pr.overflow) < overflowMax {
		pr.overflow = append(pr.overflow, job.EventID)
	}
	select {
	case pr.wake <- struct{}{}:
	default:
	}
}

// takeOverflow empties the overflow.
func (pr *processor) takeOverflow() []string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	out := pr.overflow
	pr.overflow = nil
	return out
}

// queueOverflow queues what the full queue did not take, by id (the processing reads it), as
// room frees; what ctx's end leaves is the sweep's.
func (pr *processor) queueOverflow(ctx context.Context) {
	for _, id := range pr.takeOverflow() {
		select {
		case <-ctx.Done():
			return
		case pr.jobs <- engine.ProcessEventJob{EventID: id}:
		}
	}
}

// next is the event waiting behind the one of its item just processed, if any; when none
// waits, the item is no longer busy. When that one finished, an offer of the same event
// queued behind it with a copy of the event (its coupling's, which committed while it ran)
// is dropped: the copy was taken while the event was PENDING, before this finished it, and
// processing it would decide the event again for a write that finds it no longer PENDING. (An
// offer by id alone, a replay's or a wait's, is keyed by that id and never waits here; were
// one to, it would read the event, so it would stay.) What the next one's write read for it
// is dropped too: it was read before the one just processed wrote, so its processing reads
// its work item again.
func (pr *processor) next(job engine.ProcessEventJob, finished bool) (engine.ProcessEventJob, bool) {
	key := itemOf(job)
	pr.mu.Lock()
	defer pr.mu.Unlock()
	waiting := pr.busy[key]
	if finished {
		waiting = slices.DeleteFunc(waiting, func(q engine.ProcessEventJob) bool {
			return q.EventID == job.EventID && q.Event != nil
		})
	}
	if len(waiting) == 0 {
		delete(pr.busy, key)
		return engine.ProcessEventJob{}, false
	}
	pr.busy[key] = waiting[1:]
	nextJob := waiting[0]
	nextJob.Read = nil
	return nextJob, true
}

// run processes until ctx ends, queueing what the full queue could not take as room frees;
// what is still queued or waiting then is left to the sweep.
func (pr *processor) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-pr.wake:
				pr.queueOverflow(ctx)
			}
		}
	})
	for range eventWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case job := <-pr.jobs:
					for ok := true; ok && ctx.Err() == nil; {
						finished := pr.process(ctx, job)
						job, ok = pr.next(job, finished)
					}
				}
			}
		})
	}
	wg.Wait()
}

// process processes one event; what it cannot finish it hands to a job. finished says it
// finished.
func (pr *processor) process(ctx context.Context, job engine.ProcessEventJob) (finished bool) {
	pctx, cancel := context.WithTimeout(ctx, pr.timeout)
	defer cancel()
	// The span a job's run would be (River's middleware makes one): the processing's own span
	// and its Event Log steps are in its trace.
	pctx, span := pr.tracer.Start(pctx, "process_event", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("flowhook.event.id", job.EventID), attribute.String("flowhook.process.path", engine.PathInProcess)))
	err := pr.try(pctx, job)
	waits := errors.Is(err, engine.ErrNotCoupled) && job.Waited < len(pr.waits)
	if err != nil {
		span.SetAttributes(attribute.Bool("flowhook.handed_over", ctx.Err() == nil && !waits),
			attribute.Bool("flowhook.waits_for_coupling", waits))
		if !errors.Is(err, engine.ErrRetryLater) {
			span.RecordError(err)
			span.SetStatus(codes.Error, "handed to a job")
		}
	}
	span.End()
	if err == nil || ctx.Err() != nil {
		return err == nil // done, or stopping: the mark is the sweep's
	}
	if waits {
		pr.waitForCoupling(ctx, job)
		return false
	}
	if !errors.Is(err, engine.ErrRetryLater) {
		pr.log.WarnContext(ctx, "processing an event failed; a job will retry it", "event_id", job.EventID, "error", err.Error())
	}
	hctx, hcancel := context.WithTimeout(ctx, pr.timeout)
	defer hcancel()
	if herr := pr.p.HandOver(hctx, job.EventID); herr != nil && ctx.Err() == nil {
		pr.log.WarnContext(ctx, "handing an event to its job failed; the sweep will", "event_id", job.EventID, "error", herr.Error())
	}
	return false
}

// waitForCoupling tries the event again after its wait, read by its id (its coupling may have
// processed it meanwhile), unless it is offered again first (its coupling committed). Its mark
// stays set meanwhile: if the replica stops, the sweep hands it over.
func (pr *processor) waitForCoupling(ctx context.Context, job engine.ProcessEventJob) {
	again := engine.ProcessEventJob{EventID: job.EventID, Waited: job.Waited + 1}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	for _, queued := range pr.busy[itemOf(job)] {
		if queued.EventID == job.EventID {
			// Offered again while this try ran (its coupling committed meanwhile): it is
			// processed next, as the coupling left it; a wait would only read it again.
			return
		}
	}
	var t *time.Timer
	t = time.AfterFunc(pr.waits[job.Waited], func() {
		pr.mu.Lock()
		mine := pr.waiting[job.EventID] == t
		if mine {
			delete(pr.waiting, job.EventID)
		}
		pr.mu.Unlock()
		if mine && ctx.Err() == nil {
			pr.offer(again)
		}
	})
	pr.waiting[job.EventID] = t
}

// try processes the event, a panic becoming its error (and the event a job's), as a job's
// would.
func (pr *processor) try(ctx context.Context, job engine.ProcessEventJob) (err error) {
	defer func() {
		if v := recover(); v != nil {
			pr.log.ErrorContext(ctx, "processing an event panicked", "event_id", job.EventID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrPanic, v)
		}
	}()
	_, err = pr.p.Process(ctx, job)
	return err
}
