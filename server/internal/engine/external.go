package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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
	WorkItemByExternal(ctx context.Context, p Provider, externalID string) (WorkItem, error)
	// CoupleWorkItem sets the provider's id on a CREATING work item (WAITING), records the
	// activity, and re-enqueues events that arrived for that id before the coupling.
	CoupleWorkItem(ctx context.Context, id, externalID string, act Activity) (WorkItem, error)
	// FailWorkItem marks a work item FAILED and, when its instance still waits on it, the
	// instance FAILED with the reason.
	FailWorkItem(ctx context.Context, id, reason string, act Activity) error
	// CloseWorkItem sets a final status on a work item (CANCELLED after a void).
	CloseWorkItem(ctx context.Context, id string, status WorkItemStatus, note string, act *Activity) error
	// InsertEvent stores an event with its processing job unless its dedupe key is known; it
	// returns the stored event and whether it was new.
	InsertEvent(ctx context.Context, ev StoredEvent) (StoredEvent, bool, error)
	GetEvent(ctx context.Context, id string) (StoredEvent, error)
	// FinishEvent saves a result when the event is still PENDING (ErrConflict otherwise, or
	// when the instance or work item moved since they were read).
	FinishEvent(ctx context.Context, r EventResult) error
	// InsertEventApplied stores a new event with its result applied, in one transaction; a
	// known dedupe key stores and applies nothing (created false); ErrConflict when the
	// instance or work item moved since they were read.
	InsertEventApplied(ctx context.Context, ev StoredEvent, r EventResult) (StoredEvent, bool, error)
	// SaveDocument keeps a work item's signed document.
	SaveDocument(ctx context.Context, workItemID, name, contentType string, content []byte) error
}

// OutcomeFunc maps a provider's event to an outcome; false means it is progress, not an outcome.
type OutcomeFunc func(eventType, reason string) (Outcome, bool)

// ErrRetryLater: the event cannot be processed yet (its work item is not coupled yet).
var ErrRetryLater = errors.New("retry later")

// External processes what providers report about work items.
type External struct {
	work      WorkStore
	instances InstanceStore
	runner    *Runner
	outcomes  map[Provider]OutcomeFunc
	clock     Clock
	// OrphanWindow is how long an event for an unknown id is retried before it is ORPHANED.
	OrphanWindow time.Duration
}

// NewExternal returns the external-event side of the engine.
func NewExternal(work WorkStore, instances InstanceStore, runner *Runner, outcomes map[Provider]OutcomeFunc, clock Clock, orphanWindow time.Duration) *External {
	return &External{work: work, instances: instances, runner: runner, outcomes: outcomes, clock: clock, OrphanWindow: orphanWindow}
}

// Process applies a stored event. It is idempotent: an event no longer PENDING is left alone,
// and of two racing processors one saves its result. ErrRetryLater asks to be called again.
func (x *External) Process(ctx context.Context, eventID string) (Verdict, error) {
	for attempt := 0; ; attempt++ {
		v, err := x.process(ctx, eventID)
		// A conflict means something moved between the read and the write: read again, a few
		// times; a racing processor that saved first makes the next read a no-op.
		if errors.Is(err, ErrConflict) && attempt < 3 {
			continue
		}
		return v, err
	}
}

func (x *External) process(ctx context.Context, eventID string) (Verdict, error) {
	ev, err := x.work.GetEvent(ctx, eventID)
	if err != nil {
		return "", err
	}
	if ev.Verdict != VerdictPending {
		return ev.Verdict, nil
	}
	res, err := x.evaluate(ctx, ev)
	if err != nil {
		return VerdictPending, err
	}
	return res.Verdict, x.work.FinishEvent(ctx, res)
}

// Receive stores an authenticated event and, when its work item is known, applies it in the
// same transaction: one commit per notification, nothing left for a job. When it cannot be
// applied yet (no work item coupled), or something moved meanwhile, it is stored PENDING with
// its processing job, as Ingest does. created is false for a redelivery.
func (x *External) Receive(ctx context.Context, ev StoredEvent) (StoredEvent, bool, error) {
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = x.clock.Now()
	}
	if ev.Verdict == "" {
		ev.Verdict = VerdictPending
		// Something may move between the reads and the write (a progress event of the same
		// envelope applied by a job): read again a few times before leaving it to the job.
		for attempt := 0; attempt < 3; attempt++ {
			res, err := x.evaluate(ctx, ev)
			if errors.Is(err, ErrRetryLater) {
				break
			}
			if err != nil {
				return StoredEvent{}, false, err
			}
			saved, created, err := x.work.InsertEventApplied(ctx, ev, res)
			if !errors.Is(err, ErrConflict) {
				return saved, created, err
			}
		}
	}
	return x.work.InsertEvent(ctx, ev)
}

// evaluate decides what an event does, reading but not writing. ErrRetryLater: its work item
// is not coupled yet and the orphan window is still open.
func (x *External) evaluate(ctx context.Context, ev StoredEvent) (EventResult, error) {
	res := EventResult{EventID: ev.ID}
	finish := func(v Verdict, reason string) (EventResult, error) {
		res.Verdict, res.Reason = v, reason
		return res, nil
	}

	wi, err := x.work.WorkItemByExternal(ctx, ev.Event.Provider, ev.Event.ExternalID)
	if errors.Is(err, ErrNotFound) {
		if x.clock.Now().Sub(ev.ReceivedAt) < x.OrphanWindow {
			return res, fmt.Errorf("%w: no work item is coupled to %s %s yet", ErrRetryLater, ev.Event.Provider, ev.Event.ExternalID)
		}
		return finish(VerdictOrphaned, fmt.Sprintf("no work item has the %s id %s after %s", ev.Event.Provider, ev.Event.ExternalID, x.OrphanWindow))
	}
	if err != nil {
		return res, err
	}
	res.WorkItemID, res.InstanceID = wi.ID, wi.InstanceID

	inst, err := x.instances.GetInstance(ctx, wi.InstanceID)
	if err != nil {
		return res, err
	}
	def, err := x.runner.definition(ctx, inst.WorkflowID, inst.Version)
	if err != nil {
		return res, err
	}
	state, _ := def.State(wi.StateKey)
	outcome, terminal := x.outcome(ev.Event, state)
	at := ev.Event.OccurredAt
	if at.IsZero() {
		at = ev.ReceivedAt
	}
	now := x.clock.Now()

	if !terminal {
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
			Message: fmt.Sprintf("%s reported %s", ev.Event.Provider, ev.Event.Type)}}
		return finish(VerdictProgress, "")
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
	if outcome == OutcomeFinished {
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
	return finish(VerdictApplied, fmt.Sprintf("took %q to %q", next.Key, next.To))
}

// outcome maps an event to an outcome: the state's overrides first, then the provider's table.
func (x *External) outcome(ev InboundEvent, state State) (Outcome, bool) {
	if state.External != nil {
		if o, ok := state.External.OutcomeOverrides[ev.Type]; ok && o.Valid() {
			return o, true
		}
	}
	if f := x.outcomes[ev.Provider]; f != nil {
		return f(ev.Type, ev.Reason)
	}
	return OutcomeUnspecified, false
}

func outcomeMessage(ev InboundEvent, o Outcome) string {
	msg := fmt.Sprintf("%s reported %s: outcome %s", ev.Provider, ev.Type, o)
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
