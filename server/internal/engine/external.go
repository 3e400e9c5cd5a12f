package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// Verdict is what processing made of an inbound event.
type Verdict string

const (
	VerdictPending     Verdict = "PENDING"
	VerdictApplied     Verdict = "APPLIED"
	VerdictProgress    Verdict = "PROGRESS"
	VerdictDuplicate   Verdict = "DUPLICATE"
	VerdictStale       Verdict = "STALE"
	VerdictIgnored     Verdict = "IGNORED"
	VerdictRejected    Verdict = "REJECTED"
	VerdictUnparseable Verdict = "UNPARSEABLE"
	VerdictOrphaned    Verdict = "ORPHANED"
)

// StoredEvent is an inbound event as kept in the inbox.
type StoredEvent struct {
	ID         string
	Event      InboundEvent
	Body       []byte
	Headers    map[string]string
	RemoteAddr string
	ReceivedAt time.Time
	Verdict    Verdict
	Reason     string
	InstanceID string
	WorkItemID string
	Attempts   int
	TraceID    string
	// Traceparent is the W3C trace context of the request that delivered it.
	Traceparent string
	// Size is the body's length as received.
	Size        int64
	ProcessedAt *time.Time
	// ReadForCallback, on an event to store PENDING, asks the write that stores it for what
	// WorkStore.WorkItemForCallback reads for it, read in the write's transaction after the
	// insert, for its in-process processing (ProcessEventJob.Read): processing then starts
	// from it instead of a read of its own. A store that cannot read with its write ignores
	// it. Never stored.
	ReadForCallback bool
	// FromInbox says the event was read back from the inbox, which keeps no status or reason
	// (Event.Status and Event.Reason are empty): processing reads them from its body again
	// (withPayload). Never stored.
	FromInbox bool
}

// CallbackRead is what WorkStore.WorkItemForCallback reads for a callback: its work item, the
// work item's instance, and whether an earlier callback of the item waits.
type CallbackRead struct {
	WorkItem WorkItem
	Instance Instance
	Earlier  bool
}

// EventResult is the outcome of processing an event, saved in one transaction: the verdict,
// and when it moved the workflow, the work item and instance changes (each conditional on the
// revision read) with their activities and jobs.
type EventResult struct {
	EventID    string
	Verdict    Verdict
	Reason     string
	InstanceID string
	WorkItemID string

	WorkItem         *WorkItem // with Revision the one read
	Instance         *Instance
	InstanceRevision int64 // the revision read; the instance must still be at it
	Activities       []Activity
	Effects          Effects
}

// WorkStore is the persistence port of work items and the inbox.
type WorkStore interface {
	GetWorkItem(ctx context.Context, id string) (WorkItem, error)
	WorkItemByExternal(ctx context.Context, s System, externalID string) (WorkItem, error)
	// WorkItemWithInstance is WorkItemByExternal and the work item's instance, read together
	// (the store joins them: one round trip): deciding an outcome needs both.
	WorkItemWithInstance(ctx context.Context, s System, externalID string) (WorkItem, Instance, error)
	// WorkItemForCallback is WorkItemWithInstance of ev's system and id and, in the same
	// round trip, EarlierPending(ev): what deciding a callback that is read back needs before
	// it asks the system (one read instead of two, before every OneSpan outcome).
	WorkItemForCallback(ctx context.Context, ev StoredEvent) (WorkItem, Instance, bool, error)
	// CoupleWorkItem sets the provider's id on a CREATING work item (WAITING), records the
	// activity, and enqueues the processing of the events that arrived for that id before the
	// coupling: PENDING ones, and ORPHANED ones, made PENDING again (with a step in their
	// Event Log), in the same transaction. It returns the work item as written and its
	// instance as the coupling found it. ErrConflict when the work item is no longer CREATING
	// (a racing attempt coupled or closed it); ErrExternalIDTaken when another work item of
	// the system has the id.
	CoupleWorkItem(ctx context.Context, id, externalID string, act Activity) (Coupled, error)
	// FailWorkItem marks a CREATING work item FAILED (ErrConflict when it is no longer
	// CREATING) and, when its instance still waits on it, the instance FAILED with the reason.
	FailWorkItem(ctx context.Context, id, reason string, act Activity) error
	// CloseWorkItem sets a final status on a work item (CANCELLED after a void).
	CloseWorkItem(ctx context.Context, id string, status WorkItemStatus, note string, act *Activity) error
	// InsertEvent stores an event unless its dedupe key is known, and when it is PENDING has
	// it processed (ProcessEventJob); it returns the stored event and whether it was new.
	InsertEvent(ctx context.Context, ev StoredEvent) (StoredEvent, bool, error)
	GetEvent(ctx context.Context, id string) (StoredEvent, error)
	// FinishEvent saves a result when the event is still PENDING (ErrConflict otherwise, or
	// when the instance or work item moved since they were read, or when the verdict is
	// ORPHANED and a work item has been coupled to the event's id meanwhile).
	FinishEvent(ctx context.Context, r EventResult) error
	// InsertEventApplied stores a new event with its result applied, in one transaction; a
	// known dedupe key stores and applies nothing (created false); ErrConflict when the
	// instance or work item moved since they were read.
	InsertEventApplied(ctx context.Context, ev StoredEvent, r EventResult) (StoredEvent, bool, error)
	// ReplayEvent saves the result of a replay: the event's parsed fields and verdict when it
	// has still been processed attempts times (ErrConflict otherwise), the result applied, and
	// a processing job when the verdict is PENDING.
	ReplayEvent(ctx context.Context, ev StoredEvent, attempts int, r EventResult) error
	// SaveDocument keeps a work item's signed document (a second keeps the first) and clears
	// the mark its fetch_document job left on the work item (see the store's documents.go).
	SaveDocument(ctx context.Context, workItemID, name, contentType string, content []byte) error
	// ClearDocumentDue clears that mark when there is no document to keep.
	ClearDocumentDue(ctx context.Context, workItemID string) error
	// EarlierPending says whether another event of the same provider and external id, earlier
	// by the provider's time (then by receipt), still waits to be processed.
	EarlierPending(ctx context.Context, ev StoredEvent) (bool, error)
}

// ErrRetryLater: the event cannot be processed yet (its work item is not coupled yet, or an
// earlier callback of the item waits).
var ErrRetryLater = errors.New("retry later")

// ReadBackError: a notification that carries no signature could not be confirmed, since its
// system could not be asked for the item's status (unreachable, refusing, not configured).
// Nothing changed; processing it again later may succeed. Its text names the system, the item
// and the provider's readable error, never a driver's or a credential: safe for a caller.
type ReadBackError struct {
	System     System
	ExternalID string
	Err        error
}

func (e *ReadBackError) Error() string {
	return fmt.Sprintf("%s %s could not be read back to confirm the notification: %s", e.System, e.ExternalID, providerErrorText(e.Err))
}

func (e *ReadBackError) Unwrap() error { return e.Err }

// ErrNotCoupled is ErrRetryLater for an event whose work item is not coupled to its id yet (a
// provider that notifies as it creates the item, before our coupling commits). The coupling
// marks the id's PENDING events due when it commits, and they are processed then.
var ErrNotCoupled = fmt.Errorf("%w: no work item is coupled to the id yet", ErrRetryLater)

// ErrExternalIDTaken is CoupleWorkItem's answer when another work item of the system already
// has the id: the system answered a new work item with an id it had given before (a sandbox
// restarted, a connector that numbers its tickets per process). It is not a racing attempt of
// the same work item (ErrConflict), and trying again would only be answered the same id.
var ErrExternalIDTaken = errors.New("another work item already has the id")

// Where an event is processed: as it arrives, in-process once stored PENDING, by its job,
// replayed by an administrator, or as reconciliation stores it (the event it made for a status
// found at the system).
const (
	PathInline    = "inline"
	PathInProcess = "inprocess"
	PathJob       = "job"
	PathReplay    = "replay"
	PathReconcile = "reconcile"
)

// errRedelivery: the event being stored with its result was stored before (a redelivery):
// nothing was saved, and what was decided for it took no effect.
var errRedelivery = errors.New("a redelivery: nothing saved")

// External processes what providers report about work items. A provider whose notifications
// are not signed over their body (ProviderSpec.SignsBody false: OneSpan sends a shared key,
// nothing binds the body to it) has its events processed by their job, never inline (the
// read-back is a call to the provider), and an outcome the provider does not confirm when
// asked changes nothing.
type External struct {
	work      WorkStore
	instances InstanceStore
	runner    *Runner
	providers Providers
	clock     Clock
	// OrphanWindow is how long an event for an unknown id is retried before it is ORPHANED.
	OrphanWindow time.Duration

	// Log keeps the steps of processing (the Event Log); Debug says whether to record them.
	Log   EventLogStore
	Debug func(context.Context) bool

	tracer   trace.Tracer
	duration metric.Float64Histogram
	webhooks metric.Int64Counter
	// items lets one notification of a work item at a time be decided (itemlock.go).
	items itemLocks
}

// versionPin is the workflow version an instance runs: set when it starts, never changed.
type versionPin struct {
	workflowID string
	version    int32
}

// NewExternal returns the external-event side of the engine.
func NewExternal(work WorkStore, instances InstanceStore, runner *Runner, providers Providers, clock Clock, orphanWindow time.Duration) *External {
	x := &External{work: work, instances: instances, runner: runner, providers: providers, clock: clock, OrphanWindow: orphanWindow,
		Debug: func(context.Context) bool { return false }}
	_ = x.Instrument(tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider())
	return x
}

// WebhookMeter is the meter of flowhook.webhooks (see NewWebhookCounter).
const WebhookMeter = "github.com/flowhook/flowhook/server/internal/webhook"

// NewWebhookCounter returns flowhook.webhooks (flowhook_webhooks_total): notifications by
// provider and final verdict, each counted once, when its verdict is decided. The webhook
// router counts those whose verdict is known when it answers (rejected, ignored, applied
// inline, duplicate, …); External counts those stored PENDING when their job (or a replay)
// decides them. Both make it here, from one meter, so that the SDK gives them one instrument.
func NewWebhookCounter(mp metric.MeterProvider) (metric.Int64Counter, error) {
	return mp.Meter(WebhookMeter).Int64Counter("flowhook.webhooks",
		metric.WithDescription("Notifications received, by provider and final verdict (rejected and ignored ones included; one stored PENDING counts when it is decided)"),
		metric.WithUnit("{notification}"))
}

// Instrument makes processing spans and measures processing time with the providers, and
// counts the final verdicts of the events decided after they were stored PENDING.
func (x *External) Instrument(tp trace.TracerProvider, mp metric.MeterProvider) error {
	x.tracer = tp.Tracer("github.com/flowhook/flowhook/server/internal/engine")
	h, err := mp.Meter("github.com/flowhook/flowhook/server/internal/engine").Float64Histogram("flowhook.webhook.process.duration",
		metric.WithDescription("Time to process a notification: find its work item, decide and save the verdict"),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	if err != nil {
		return err
	}
	x.duration = h
	if x.webhooks, err = NewWebhookCounter(mp); err != nil {
		return err
	}
	return nil
}

// Process applies a stored event. It is idempotent: an event no longer PENDING is left alone,
// and of two racing processors one saves its result. ErrRetryLater asks to be called again.
// With the debug option on, its steps go to the Event Log.
func (x *External) Process(ctx context.Context, eventID string) (Verdict, error) {
	return x.logged(ctx, eventID, func(ctx context.Context) (Verdict, error) { return x.processRetrying(ctx, eventID, nil, nil, PathJob) })
}

// ProcessCommitted is Process in-process, for an event marked due whose write has just
// committed (the job's place): job.Event, when given, is the event as that write stored it, and
// it is not read again unless something moved meanwhile; job.Read, when given, is what that
// write read for it (StoredEvent.ReadForCallback), which the first try starts from.
func (x *External) ProcessCommitted(ctx context.Context, job ProcessEventJob) (Verdict, error) {
	return x.logged(ctx, job.EventID, func(ctx context.Context) (Verdict, error) {
		return x.processRetrying(ctx, job.EventID, job.Event, job.Read, PathInProcess)
	})
}

// logged runs process with the Event Log's trail when the debug option is on, and keeps it.
func (x *External) logged(ctx context.Context, eventID string, process func(context.Context) (Verdict, error)) (Verdict, error) {
	var trail *eventlog.Trail
	if x.Log != nil && x.Debug(ctx) {
		trail = eventlog.NewTrail(x.clock.Now)
		ctx = eventlog.With(ctx, trail)
	}
	v, err := process(ctx)
	if trail != nil {
		if err != nil && !errors.Is(err, ErrRetryLater) {
			eventlog.Note(ctx, eventlog.StepError, "processing failed and will be retried: %s", safeError(err))
		}
		if entries := trail.Entries(); len(entries) > 0 {
			// The Event Log is a debugging aid: failing to write it must not fail the job.
			_ = x.Log.AppendEventLog(context.WithoutCancel(ctx), eventID, entries)
		}
	}
	return v, err
}

// processRetrying processes the event: stored (when given, the first time, from read when
// given) or read.
func (x *External) processRetrying(ctx context.Context, eventID string, stored *StoredEvent, read *CallbackRead, path string) (Verdict, error) {
	for attempt := 0; ; attempt++ {
		var v Verdict
		var err error
		if stored != nil && attempt == 0 {
			v, err = x.processEvent(ctx, *stored, read, path)
		} else {
			v, err = x.process(ctx, eventID, path)
		}
		// A conflict means something moved between the read and the write: read again, a few
		// times; a racing processor that saved first makes the next read a no-op.
		if errors.Is(err, ErrConflict) && attempt < 3 {
			eventlog.Note(ctx, eventlog.StepError, "the event, its work item or its instance changed while this was decided; reading again")
			continue
		}
		return v, err
	}
}

// givenUpReason begins the reason of an event GiveUp ended.
const givenUpReason = "not processed after "

// GiveUp ends an event whose processing failed on its job's last attempt (a OneSpan package
// that could not be read back for hours): IGNORED, saying why, so that it no longer holds the
// later notifications of its work item (EarlierPending) and reconciliation, which asks the
// system again, decides the work item. An administrator may still replay it. An event decided
// meanwhile is left as it is.
func (x *External) GiveUp(ctx context.Context, eventID string, attempts int, cause error) error {
	why := safeError(cause)
	_, err := x.logged(ctx, eventID, func(ctx context.Context) (Verdict, error) {
		ev, err := x.work.GetEvent(ctx, eventID)
		if errors.Is(err, ErrNotFound) || (err == nil && ev.Verdict != VerdictPending) {
			return "", nil // gone, or decided meanwhile
		}
		if err != nil {
			return "", err
		}
		res := EventResult{EventID: eventID, Verdict: VerdictIgnored, Reason: CleanProse(fmt.Sprintf(
			givenUpReason+"%d attempts (%s); reconciliation asks the system again, and an administrator may replay it",
			attempts, why))}
		eventlog.Note(ctx, eventlog.StepVerdict, "%s: %s", res.Verdict, res.Reason)
		err = x.work.FinishEvent(ctx, res)
		if errors.Is(err, ErrConflict) {
			return "", nil
		}
		if err == nil {
			x.countDecided(ctx, ev, res.Verdict)
		}
		return res.Verdict, err
	})
	return err
}

func (x *External) process(ctx context.Context, eventID, path string) (Verdict, error) {
	ev, err := x.work.GetEvent(ctx, eventID)
	if err != nil {
		return "", err
	}
	return x.processEvent(ctx, ev, nil, path)
}

// withPayload gives an event read from the inbox what the inbox does not keep of it: the
// status and the reason its payload carries, which its outcome may be decided from (DocuSign's
// void reason tells an expired envelope from a voided one) and which the work item's provider
// status shows. A provider's body is parsed again; reconciliation's is its own JSON. A body
// that cannot be read (erased, say) leaves the event as it was stored.
func (x *External) withPayload(ev StoredEvent) StoredEvent {
	if !ev.FromInbox || len(ev.Body) == 0 || ev.Event.Status != "" || ev.Event.Reason != "" {
		return ev
	}
	ev.FromInbox = false
	if ev.Headers[SourceHeader] != "" {
		var b reconciledBody
		if json.Unmarshal(ev.Body, &b) == nil {
			ev.Event.Status, ev.Event.Reason = CleanLine(b.Status), CleanProse(b.Reason)
		}
		return ev
	}
	parsed, err := x.providers.Parse(ev.Event.System, ev.Body)
	if err == nil {
		parsed, err = CleanInbound(parsed)
	}
	if err == nil && parsed.Type == ev.Event.Type && parsed.ExternalID == ev.Event.ExternalID {
		ev.Event.Status, ev.Event.Reason = parsed.Status, parsed.Reason
	}
	return ev
}

func (x *External) processEvent(ctx context.Context, ev StoredEvent, read *CallbackRead, path string) (Verdict, error) {
	if ev.Verdict != VerdictPending {
		return ev.Verdict, nil
	}
	ev = x.withPayload(ev) // read from the inbox: by its job, or picked up by a coupling
	return x.handle(ctx, ev, read, path, func(ctx context.Context, res EventResult) error {
		return x.work.FinishEvent(ctx, res)
	})
}

// Receive stores an authenticated event and, when its work item is known, applies it in the
// same transaction: one commit per notification, nothing left for a job. When it cannot be
// applied yet (no work item coupled), or something moved meanwhile, it is stored PENDING with
// its processing job. An event given a verdict already (unparseable, rejected) is only stored.
// created is false for a redelivery.
func (x *External) Receive(ctx context.Context, ev StoredEvent) (StoredEvent, bool, error) {
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = x.clock.Now()
	}
	given := ev.Verdict != ""
	if !given && !x.signsBody(ev.Event.System) {
		// The answer must not wait for a call to the provider: processing reads it back once
		// the event is stored, from what its write read for it.
		ev.Verdict = VerdictPending
		ev.ReadForCallback = x.readsForCallback(ctx, ev.Event)
		eventlog.Note(ctx, eventlog.StepBuffered, "%s callbacks are not signed: processing reads the %s back from %s before anything moves",
			ev.Event.System, ev.Event.ExternalID, ev.Event.System)
	}
	if !given && ev.Verdict == "" {
		ev.Verdict = VerdictPending
		// Something may move between the reads and the write (a progress event of the same
		// envelope applied by a job): read again a few times before leaving it to the job.
		path := PathInline
		if ev.Headers[SourceHeader] != "" {
			path = PathReconcile
		}
		for attempt := 0; attempt < 3; attempt++ {
			var saved StoredEvent
			var created bool
			_, err := x.handle(ctx, ev, nil, path, func(ctx context.Context, res EventResult) error {
				var err error
				saved, created, err = x.work.InsertEventApplied(ctx, ev, res)
				if err == nil && !created {
					err = errRedelivery
				}
				return err
			})
			if errors.Is(err, ErrRetryLater) {
				break
			}
			if errors.Is(err, ErrConflict) {
				eventlog.Note(ctx, eventlog.StepError, "the work item or instance changed while this was decided; reading again")
				continue
			}
			if err != nil && !errors.Is(err, errRedelivery) {
				return StoredEvent{}, false, err
			}
			return x.received(ctx, eventlog.Reserve(ctx), saved, created, false)
		}
	}
	// The event's job may run as soon as the insert commits: the verdict noted below keeps its
	// place before anything the job notes.
	mark := eventlog.Reserve(ctx)
	saved, created, err := x.work.InsertEvent(ctx, ev)
	if err != nil {
		return StoredEvent{}, false, err
	}
	return x.received(ctx, mark, saved, created, given)
}

// signsBody says whether a system's notifications are signed over their body.
func (x *External) signsBody(s System) bool {
	spec, ok := x.providers.Spec(s.Provider)
	return ok && spec.SignsBody
}

// keepsDocuments says whether a system's finished work items have a document to fetch.
func (x *External) keepsDocuments(s System) bool {
	spec, ok := x.providers.Spec(s.Provider)
	return ok && spec.Documents
}

// received notes, at mark, a redelivery, or the verdict of an event stored without deciding
// (given: it came with its verdict; decided ones noted theirs in handle).
func (x *External) received(ctx context.Context, mark eventlog.Mark, saved StoredEvent, created, given bool) (StoredEvent, bool, error) {
	if !created {
		mark.Note(ctx, eventlog.StepDeduplicated, "a redelivery of event %s, first received %s (verdict %s); nothing changed",
			saved.ID, saved.ReceivedAt.UTC().Format(time.RFC3339), saved.Verdict)
	} else if saved.Verdict == VerdictPending {
		mark.Note(ctx, eventlog.StepVerdict, "stored PENDING, to be processed once stored (after %s)", elapsed(ctx))
	} else if given && saved.Verdict != VerdictRejected { // a rejection says why in its REJECTED step
		mark.Note(ctx, eventlog.StepVerdict, "%s%s (after %s)", saved.Verdict, reasonSuffix(saved.Reason), elapsed(ctx))
	}
	return saved, created, nil
}

// handle finds the event's work item (or starts from read, what the write that stored it
// read), decides what the event does and saves the result with save, in a span linked to the
// transition that created the work item and to the request that delivered the event. Other
// notifications of the same work item wait meanwhile.
func (x *External) handle(ctx context.Context, ev StoredEvent, read *CallbackRead, path string, save func(context.Context, EventResult) error) (Verdict, error) {
	start := time.Now()
	unlock, err := x.items.lock(ctx, itemKey(ev.Event))
	if err != nil {
		return "", err
	}
	defer unlock()
	var (
		wi      WorkItem
		inst    *Instance
		earlier *bool
	)
	if read != nil && !read.Earlier {
		// Read as the event's write committed, a moment ago: what moved since (another
		// replica's processing of the item) makes the write below conflict, and the retry
		// reads again. An earlier callback that waited then may have finished since: that
		// read is not kept.
		wi, inst, earlier = read.WorkItem, &read.Instance, new(bool)
	} else {
		wi, inst, earlier, err = x.find(ctx, ev)
	}
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", err
	}
	ctx, span := x.startSpan(ctx, ev, wi, found, path)
	defer span.End()

	res, err := x.decide(ctx, ev, wi, inst, earlier, found)
	if err == nil {
		err = save(ctx, res)
	}
	verdict := string(res.Verdict)
	switch {
	case errors.Is(err, errRedelivery):
		// Stored before: nothing was saved, and the redelivery says so (received).
		verdict = string(VerdictDuplicate)
	case errors.Is(err, ErrRetryLater):
		verdict = string(VerdictPending)
		span.SetAttributes(attribute.Bool("flowhook.retry_later", true))
	case errors.Is(err, ErrConflict):
		// Something moved since the read: the caller reads again (or leaves the event to its
		// job), and that processing is measured. Not a failure.
		span.SetAttributes(attribute.Bool("flowhook.conflict", true))
		span.SetAttributes(attribute.String("flowhook.webhook.verdict", "CONFLICT"))
		return res.Verdict, err
	case err != nil:
		verdict = "error"
		span.SetStatus(codes.Error, "not saved")
		span.SetAttributes(attribute.String("flowhook.error", errorClass(err)))
	default:
		msg := string(res.Verdict)
		if res.Reason != "" {
			msg += ": " + res.Reason
		}
		eventlog.Note(ctx, eventlog.StepVerdict, "%s (after %s)", msg, elapsed(ctx))
		if path != PathInline && path != PathReconcile {
			x.countDecided(ctx, ev, res.Verdict)
		}
	}
	span.SetAttributes(attribute.String("flowhook.webhook.verdict", verdict))
	if res.InstanceID != "" {
		span.SetAttributes(attribute.String("flowhook.instance_id", res.InstanceID))
	}
	x.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(
		attribute.String("provider", ev.Event.System.String()),
		attribute.String("verdict", verdictLabel(verdict)),
		attribute.String("path", path)))
	return res.Verdict, err
}

// verdictLabels are the metrics' verdict labels, lower case (made once: a label per event).
var verdictLabels = func() map[string]string {
	m := map[string]string{}
	for _, v := range []Verdict{VerdictPending, VerdictApplied, VerdictProgress, VerdictDuplicate, VerdictStale, VerdictIgnored,
		VerdictRejected, VerdictUnparseable, VerdictOrphaned} {
		m[string(v)] = strings.ToLower(string(v))
	}
	return m
}()

func verdictLabel(v string) string {
	if l, ok := verdictLabels[v]; ok {
		return l
	}
	return strings.ToLower(v)
}

// countDecided counts a notification stored PENDING when it is decided (by its job, in-process,
// replayed, or given up), with its final verdict: one decided as it arrived was counted by the
// webhook router, and one decided before (ORPHANED, then picked up again when its work item
// was coupled) was counted then. Reconciliation's own events are not notifications.
func (x *External) countDecided(ctx context.Context, ev StoredEvent, v Verdict) {
	if ev.Verdict != VerdictPending || ev.Attempts != 0 || v == VerdictPending || ev.Headers[SourceHeader] != "" {
		return
	}
	x.webhooks.Add(ctx, 1, metric.WithAttributes(attribute.String("provider", ev.Event.System.String()),
		attribute.String("verdict", verdictLabel(string(v)))))
}

// startSpan starts the processing span. Its links lead to the transition that created the work
// item (days earlier, perhaps) and, when a job or a replay processes it, to the request that
// delivered the event (inline, that request's span is the parent).
func (x *External) startSpan(ctx context.Context, ev StoredEvent, wi WorkItem, found bool, path string) (context.Context, trace.Span) {
	var links []trace.Link
	if found {
		if sc := spanContextOf(wi.Traceparent); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{
				attribute.String("flowhook.link", "work_item.created")}})
		}
	}
	// Processed as it arrives, the request's span is the parent; a link to it as well would
	// make Jaeger drop the parent relation (it shows a link to the parent instead).
	if ingest := spanContextOf(ev.Traceparent); ingest.IsValid() && ingest.SpanID() != trace.SpanContextFromContext(ctx).SpanID() {
		links = append(links, trace.Link{SpanContext: ingest, Attributes: []attribute.KeyValue{
			attribute.String("flowhook.link", "webhook.received")}})
	}
	attrs := []attribute.KeyValue{
		attribute.String("flowhook.provider", ev.Event.System.String()),
		attribute.String("flowhook.event.type", ev.Event.Type),
		attribute.String("flowhook.external_id", ev.Event.ExternalID),
		attribute.String("flowhook.process.path", path),
	}
	if ev.ID != "" {
		attrs = append(attrs, attribute.String("flowhook.event.id", ev.ID))
	}
	if found {
		attrs = append(attrs, attribute.String("flowhook.work_item_id", wi.ID))
	}
	return x.tracer.Start(ctx, "webhook.process", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithLinks(links...), trace.WithAttributes(attrs...))
}

// spanContextOf reads a W3C traceparent.
func spanContextOf(traceparent string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	return trace.SpanContextFromContext(ctx)
}

// elapsed is the time since the trail in ctx started ("" without one).
func elapsed(ctx context.Context) string {
	if t := eventlog.From(ctx); t != nil {
		return t.Elapsed().Round(time.Microsecond).String()
	}
	return ""
}

// providerErrorText describes a failed call to an outside system, for the Event Log and for
// callers: the system's own readable error, what its settings lack, or the kind of failure —
// never a transport's text (it may carry addresses). A store error says so (safeError).
func providerErrorText(err error) string {
	var pe *ProviderError
	switch {
	case errors.As(err, &pe):
		return pe.Error()
	case errors.Is(err, ErrNotConfigured), errors.Is(err, ErrNotSupported):
		return err.Error()
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound), errors.Is(err, ErrFailedPrecondition):
		return safeError(err)
	default:
		return "the system could not be reached (" + errorClass(err) + ")"
	}
}

// errorClass names an error's kind for spans and metrics, never its text.
func errorClass(err error) string {
	switch {
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	default:
		return "unavailable"
	}
}

// ErrPanicked is what an event's processing that panicked failed with, as the Event Log and
// the event's reason tell it (the panic's own text and stack are in the server's log).
var ErrPanicked = errors.New("processing panicked (a defect: the server's log has its stack)")

// safeError is an error's description for the Event Log: the engine's own errors say what
// happened; anything else (a driver's text) is named by its class only.
func safeError(err error) string {
	var rb *ReadBackError
	if errors.As(err, &rb) {
		return rb.Error() // the system's words, never a transport's text
	}
	for _, known := range []error{ErrConflict, ErrNotFound, ErrFailedPrecondition, ErrPanicked} {
		if errors.Is(err, known) {
			return err.Error()
		}
	}
	return "the database is unavailable (" + errorClass(err) + ")"
}

// readsForCallback says whether find reads an event's work item with WorkItemForCallback, and
// the event has the provider's time that read needs: a callback that is read back, of an
// outcome in its system's table. Its write can read the same as it commits
// (StoredEvent.ReadForCallback).
func (x *External) readsForCallback(ctx context.Context, ev InboundEvent) bool {
	if x.signsBody(ev.System) || ev.OccurredAt.IsZero() {
		return false
	}
	_, terminal, err := x.providers.Outcome(ctx, ev.System, ev.Type, ev.Reason)
	return err == nil && terminal
}

// find reads the work item an event's id is coupled to and, when the system's table makes the
// event an outcome (which needs the instance), its instance with it in one read; a progress
// event's instance is not read (nil). An outcome that only the state's overrides make one
// reads its instance in decide.
func (x *External) find(ctx context.Context, stored StoredEvent) (WorkItem, *Instance, *bool, error) {
	ev := stored.Event
	if _, terminal, err := x.providers.Outcome(ctx, ev.System, ev.Type, ev.Reason); err == nil && terminal {
		if !x.signsBody(ev.System) {
			// A callback that is read back: whether an earlier one waits comes with the read.
			wi, inst, earlier, err := x.work.WorkItemForCallback(ctx, stored)
			if err != nil {
				return WorkItem{}, nil, nil, err
			}
			return wi, &inst, &earlier, nil
		}
		wi, inst, err := x.work.WorkItemWithInstance(ctx, ev.System, ev.ExternalID)
		if err != nil {
			return WorkItem{}, nil, nil, err
		}
		return wi, &inst, nil, nil
	}
	wi, err := x.work.WorkItemByExternal(ctx, ev.System, ev.ExternalID)
	return wi, nil, nil, err
}

// decide says what an event does, reading but not writing. ErrRetryLater: its work item is not
// coupled yet and the orphan window is still open. read and earlier are what find read with
// the work item (nil: not read, decide reads them when it needs them).
func (x *External) decide(ctx context.Context, ev StoredEvent, wi WorkItem, read *Instance, earlier *bool, found bool) (EventResult, error) {
	res := EventResult{EventID: ev.ID}
	finish := func(v Verdict, reason string) (EventResult, error) {
		res.Verdict, res.Reason = v, reason
		return res, nil
	}

	if !found {
		if until := ev.ReceivedAt.Add(x.OrphanWindow); x.clock.Now().Before(until) {
			eventlog.Note(ctx, eventlog.StepBuffered, "no work item has the %s id %s yet (its creation may not have committed); kept PENDING and retried until %s",
				ev.Event.System, ev.Event.ExternalID, until.UTC().Format(time.RFC3339))
			return res, fmt.Errorf("%w (%s %s)", ErrNotCoupled, ev.Event.System, ev.Event.ExternalID)
		}
		return finish(VerdictOrphaned, fmt.Sprintf("no work item has the %s id %s after %s", ev.Event.System, ev.Event.ExternalID, x.OrphanWindow))
	}
	res.WorkItemID, res.InstanceID = wi.ID, wi.InstanceID

	// Progress needs only the instance's version, which never changes: known, the instance is
	// read only for an outcome (or for the Event Log's story).
	var inst Instance
	pin, pinned := x.runner.pins.get(wi.InstanceID)
	switch {
	case read != nil:
		inst = *read // read with the work item
	case !pinned || eventlog.Enabled(ctx):
		var err error
		if inst, err = x.instances.GetInstance(ctx, wi.InstanceID); err != nil {
			return res, err
		}
	}
	if inst.ID != "" {
		pin = versionPin{workflowID: inst.WorkflowID, version: inst.Version}
		x.runner.pin(inst)
		eventlog.Note(ctx, eventlog.StepMatched, "work item %s (%s, provider status %s) of instance %s, which is %s in state %q",
			wi.ID, strings.ToLower(string(wi.Status)), nonEmpty(wi.ProviderStatus, "-"), inst.ID, inst.Status, inst.StateKey)
	}
	def, err := x.runner.definition(ctx, pin.workflowID, pin.version)
	if err != nil {
		return res, err
	}
	state, _ := def.State(wi.StateKey)
	outcome, terminal, err := x.outcome(ctx, ev.Event, state)
	if err != nil {
		return res, err
	}
	at := ev.Event.OccurredAt
	if at.IsZero() {
		at = ev.ReceivedAt
	}
	now := x.clock.Now()

	if !terminal {
		eventlog.Note(ctx, eventlog.StepOutcome, "%s is progress, not an outcome", ev.Event.Type)
		switch {
		case !wi.Status.Open():
			return finish(VerdictStale, fmt.Sprintf("%s arrived after the work item was %s", ev.Event.Type, strings.ToLower(string(wi.Status))))
		case wi.LastEventAt != nil && at.Before(*wi.LastEventAt):
			return finish(VerdictStale, fmt.Sprintf("%s is older than the last event applied", ev.Event.Type))
		}
		w := wi
		w.ProviderStatus = nonEmpty(ev.Event.Status, w.ProviderStatus)
		w.LastEventAt = &at
		w.UpdatedAt = now
		res.WorkItem = &w
		res.Activities = []Activity{{Kind: ActivityExternalProgress, ToState: wi.StateKey, CreatedAt: now,
			Message: fmt.Sprintf("%s reported %s", ev.Event.System, ev.Event.Type)}}
		return finish(VerdictProgress, "")
	}
	// What the event reports in its system's own table, before the state's overrides: what a
	// read-back must agree with, and whether the item finished (its document is kept
	// whatever outcome the state maps that to). Asked only where either matters.
	reported := outcome
	if !x.signsBody(ev.Event.System) || x.keepsDocuments(wi.System) {
		if reported, err = x.reported(ctx, ev.Event, state, outcome); err != nil {
			return res, err
		}
	}
	if reported != outcome {
		eventlog.Note(ctx, eventlog.StepOutcome, "%s reports %s, which state %q maps to the outcome %s", ev.Event.Type, reported, wi.StateKey, outcome)
	} else {
		eventlog.Note(ctx, eventlog.StepOutcome, "%s maps to the outcome %s", ev.Event.Type, outcome)
	}
	if inst.ID == "" {
		if inst, err = x.instances.GetInstance(ctx, wi.InstanceID); err != nil {
			return res, err
		}
	}

	if !wi.Status.Open() {
		if wi.Status == WorkItemResolved && wi.Outcome == outcome {
			return finish(VerdictDuplicate, fmt.Sprintf("the work item was already resolved as %s", outcome))
		}
		return finish(VerdictStale, fmt.Sprintf("the work item is %s (outcome %s); terminal outcomes never change", wi.Status, wi.Outcome))
	}
	if inst.Status != StatusWaitingExternal || inst.StateKey != wi.StateKey || inst.Revision != wi.EnteredRevision {
		return finish(VerdictStale, fmt.Sprintf("the instance is %s in %q and no longer waits on this work item", inst.Status, inst.StateKey))
	}
	if sys := ev.Event.System; !x.signsBody(sys) {
		// Processed by jobs, callbacks of one item could be applied out of their order; the
		// read-back cannot always tell (an archive hides a decline), so the earlier goes first.
		if earlier == nil {
			e, err := x.work.EarlierPending(ctx, ev)
			if err != nil {
				return res, err
			}
			earlier = &e
		}
		if *earlier {
			eventlog.Note(ctx, eventlog.StepBuffered, "an earlier callback of %s %s is still being processed: this one waits for it", sys, ev.Event.ExternalID)
			return res, fmt.Errorf("%w: an earlier event of %s %s is pending", ErrRetryLater, sys, ev.Event.ExternalID)
		}
		// The read-back confirms the event, not the state's mapping of it: a status agrees
		// with an event when both end the item the same way in the system's own table (a
		// declined package confirms PACKAGE_DECLINE, which a state may map to EXPIRED).
		st, err := x.confirm(ctx, sys, ev.Event.ExternalID)
		if err != nil {
			eventlog.Note(ctx, eventlog.StepError, "reading %s %s back failed: %s", sys, ev.Event.ExternalID, providerErrorText(err))
			return res, &ReadBackError{System: sys, ExternalID: ev.Event.ExternalID, Err: err}
		}
		if st.Outcome != reported && !st.Concealed {
			eventlog.Note(ctx, eventlog.StepOutcome, "%s says %s is %q, which is not %s: the callback is not confirmed", sys, ev.Event.ExternalID, st.Status, reported)
			return finish(VerdictIgnored, fmt.Sprintf("%s reports the status %q, which disagrees with %s; nothing changed", sys, st.Status, ev.Event.Type))
		}
		eventlog.Note(ctx, eventlog.StepOutcome, "%s confirms: %s is %q", sys, ev.Event.ExternalID, st.Status)
		if ev.Event.Reason == "" {
			ev.Event.Reason = st.Reason
		}
	}

	w := wi
	w.Status = WorkItemResolved
	w.Outcome = outcome
	w.ProviderStatus = nonEmpty(ev.Event.Status, w.ProviderStatus)
	w.LastEventAt = &at
	w.ResolvedAt = &now
	w.UpdatedAt = now
	res.WorkItem = &w
	res.InstanceRevision = inst.Revision
	res.Activities = []Activity{{Kind: ActivityOutcome, ToState: wi.StateKey, CreatedAt: now,
		Message: outcomeMessage(ev.Event, outcome)}}
	if (outcome == OutcomeFinished || reported == OutcomeFinished) && x.keepsDocuments(wi.System) {
		res.Effects.Jobs = append(res.Effects.Jobs, FetchDocumentJob{WorkItemID: wi.ID})
	}

	var next *Transition
	for i := range def.Transitions {
		if t := def.Transitions[i]; t.From == wi.StateKey && t.OnOutcome == outcome {
			next = &def.Transitions[i]
		}
	}
	if next == nil {
		// The designer gave this outcome no way out: the instance stays, and says so.
		eventlog.Note(ctx, eventlog.StepTransition, "state %q has no transition for %s; the instance stays where it is", wi.StateKey, outcome)
		res.Activities = append(res.Activities, Activity{Kind: ActivityOutcome, ToState: wi.StateKey, CreatedAt: now,
			Message: fmt.Sprintf("state %q has no transition for %s; the instance stays where it is", wi.StateKey, outcome)})
		return finish(VerdictApplied, "no transition for "+outcome.String())
	}
	moved := inst
	moved.Revision = inst.Revision + 1
	acts, eff := x.runner.move(ctx, &moved, def, *next, "", nil)
	res.Instance = &moved
	res.Activities = append(res.Activities, acts...)
	res.Effects.NewWorkItems = append(res.Effects.NewWorkItems, eff.NewWorkItems...)
	res.Effects.Jobs = append(res.Effects.Jobs, eff.Jobs...)
	eventlog.Note(ctx, eventlog.StepTransition, "took %q from %q to %q; the instance is now %s", next.Key, wi.StateKey, next.To, moved.Status)
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("flowhook.transition", next.Key))
	return finish(VerdictApplied, fmt.Sprintf("took %q to %q", next.Key, next.To))
}

// outcome maps an event to an outcome: the state's overrides first, then the system's table.
func (x *External) outcome(ctx context.Context, ev InboundEvent, state State) (Outcome, bool, error) {
	if state.External != nil {
		if o, ok := state.External.OutcomeOverrides[ev.Type]; ok && o.Valid() {
			return o, true, nil
		}
	}
	return x.providers.Outcome(ctx, ev.System, ev.Type, ev.Reason)
}

// reported is the outcome an event reports in its system's own table, before the state's
// overrides: given (the outcome mapped) when the state overrides nothing of the event, or when
// only the override makes it an outcome (then a read-back must agree with given; no such
// override is allowed where outcomes are read back, ProviderSpec.Acts).
func (x *External) reported(ctx context.Context, ev InboundEvent, state State, given Outcome) (Outcome, error) {
	if state.External == nil {
		return given, nil
	}
	if _, ok := state.External.OutcomeOverrides[ev.Type]; !ok {
		return given, nil
	}
	o, ok, err := x.providers.Outcome(ctx, ev.System, ev.Type, ev.Reason)
	if err != nil || !ok {
		return given, err
	}
	return o, nil
}

// WorkItemOutcome maps an event of a work item's system as processing it would: through the
// overrides of the state the work item was created for, then the system's table.
func (x *External) WorkItemOutcome(ctx context.Context, wi WorkItem, eventType, reason string) (Outcome, bool, error) {
	inst, err := x.instances.GetInstance(ctx, wi.InstanceID)
	if err != nil {
		return OutcomeUnspecified, false, err
	}
	def, err := x.runner.definition(ctx, inst.WorkflowID, inst.Version)
	if err != nil {
		return OutcomeUnspecified, false, err
	}
	state, _ := def.State(wi.StateKey)
	return x.outcome(ctx, InboundEvent{System: wi.System, Type: eventType, Reason: reason}, state)
}

// confirm reads a work item's status back from its system, with a client checked against its
// settings a moment ago: a read-back that fails is retried by the event's job.
func (x *External) confirm(ctx context.Context, s System, externalID string) (ExternalStatus, error) {
	c, err := recentClient(ctx, x.providers, s)
	if err != nil {
		return ExternalStatus{}, err
	}
	return c.Status(ctx, externalID)
}

func outcomeMessage(ev InboundEvent, o Outcome) string {
	msg := fmt.Sprintf("%s reported %s: outcome %s", ev.System, ev.Type, o)
	if ev.Reason != "" {
		msg += " (" + truncateText(ev.Reason, 200) + ")"
	}
	return msg
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
