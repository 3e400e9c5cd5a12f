package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// EventFilter narrows ListEvents; zero fields match everything.
type EventFilter struct {
	// Provider matches every system of the provider; with Connector, that connector's only.
	Provider   Provider
	Connector  string
	Verdict    Verdict
	EventType  string
	ExternalID string
	InstanceID string
	// Since is inclusive, Until exclusive (received_at).
	Since, Until time.Time
}

// EventLogStore is the persistence port of the Event Log: the inbox read back and the steps.
type EventLogStore interface {
	// ListEvents returns a page of stored events, newest first (without bodies), the position
	// after it ("" at the end) and, on the first page, how many match.
	ListEvents(ctx context.Context, f EventFilter, p Page) ([]StoredEvent, string, Total, error)
	GetEvent(ctx context.Context, id string) (StoredEvent, error)
	// EventLog returns an event's steps, oldest first.
	EventLog(ctx context.Context, eventID string) ([]eventlog.Entry, error)
	// AppendEventLog adds steps to an event's log.
	AppendEventLog(ctx context.Context, eventID string, entries []eventlog.Entry) error
	// PurgeEvents deletes up to limit processed events received before cutoff, with their
	// steps, and steps older than cutoff; it returns how many rows went. PENDING events stay.
	PurgeEvents(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// Replay runs the processing of a stored event again, for an administrator: its body is read
// again with the provider's parser (a fix to the parser reaches events it could not read), then
// it is decided against the current state and the result saved, with the new verdict. An event
// that took effect (APPLIED, PROGRESS) is not applied twice: replaying it records that nothing
// was left to do. Rejected events were never authenticated and are not replayed. The replay's
// steps always go to the Event Log. An event whose body retention erased (ErasedHeader) is
// not replayed either. It returns the event as saved, its verdict before, and the steps.
func (x *External) Replay(ctx context.Context, eventID, actorID string) (StoredEvent, Verdict, []eventlog.Entry, error) {
	trail := eventlog.NewTrail(x.clock.Now)
	ctx = eventlog.With(ctx, trail)
	var before Verdict
	var out StoredEvent
	var err error
	for attempt := 0; ; attempt++ {
		out, before, err = x.replay(ctx, eventID, actorID, attempt == 0)
		// Someone else processed it between the read and the write: read it again.
		if errors.Is(err, ErrConflict) && attempt < 3 {
			eventlog.Note(ctx, eventlog.StepError, "the event or its work item changed meanwhile; reading again")
			continue
		}
		break
	}
	if err != nil {
		if len(trail.Entries()) == 0 {
			return StoredEvent{}, "", nil, err // no such event, or one that cannot be replayed
		}
		eventlog.Note(ctx, eventlog.StepError, "the replay failed: %s", safeError(err))
	}
	entries := trail.Entries()
	if x.Log != nil && len(entries) > 0 {
		if lerr := x.Log.AppendEventLog(context.WithoutCancel(ctx), eventID, entries); lerr != nil && err == nil {
			err = lerr
		}
	}
	return out, before, entries, err
}

func (x *External) replay(ctx context.Context, eventID, actorID string, first bool) (StoredEvent, Verdict, error) {
	ev, err := x.work.GetEvent(ctx, eventID)
	if err != nil {
		return StoredEvent{}, "", err
	}
	before := ev.Verdict
	if ev.Verdict == VerdictRejected {
		return StoredEvent{}, before, fmt.Errorf("%w: event %s was rejected (never authenticated); it cannot be replayed", ErrFailedPrecondition, eventID)
	}
	if why := ev.Headers[ErasedHeader]; why != "" {
		// Its body is empty: parsed again, it would become UNPARSEABLE.
		return StoredEvent{}, before, fmt.Errorf("%w: event %s's body was erased with its instance's form data (%s); it cannot be replayed",
			ErrFailedPrecondition, eventID, truncateText(why, 200))
	}
	if first {
		who := "an administrator"
		switch actorID {
		case "":
		case ReconcileActor:
			who = "reconciliation, which found its item still waiting"
		default:
			who = "user " + actorID
		}
		eventlog.Note(ctx, eventlog.StepReplayed, "replayed by %s; it was %s after %d attempt(s)%s", who, ev.Verdict, ev.Attempts, reasonSuffix(ev.Reason))
	}
	if ev.Verdict == VerdictApplied || ev.Verdict == VerdictProgress {
		eventlog.Note(ctx, eventlog.StepVerdict, "%s already took effect; nothing is applied twice", ev.Verdict)
		return ev, before, nil
	}

	// Read the body again: the parser may have learnt to read it since (not an event that
	// reconciliation made: its body is not the provider's).
	if ev.Headers[SourceHeader] == "" {
		parsed, perr := x.providers.Parse(ev.Event.System, ev.Body)
		if perr == nil {
			parsed, perr = CleanInbound(parsed)
		}
		if perr != nil {
			res := EventResult{EventID: ev.ID, Verdict: VerdictUnparseable, Reason: CleanProse(perr.Error())}
			eventlog.Note(ctx, eventlog.StepVerdict, "%s: %s", res.Verdict, res.Reason)
			if err := x.work.ReplayEvent(ctx, ev, ev.Attempts, res); err != nil {
				return StoredEvent{}, before, err
			}
			return x.reread(ctx, eventID, before)
		}
		parsed.System, parsed.DedupeKey = ev.Event.System, ev.Event.DedupeKey
		ev.Event = parsed
		eventlog.Note(ctx, eventlog.StepParsed, "%s for %s %s%s", parsed.Type, parsed.System, parsed.ExternalID, occurred(parsed.OccurredAt))
	} else {
		ev = x.withPayload(ev) // the status reconciliation found, and its reason
	}
	attempts := ev.Attempts
	if spec, ok := x.providers.Spec(ev.Event.System.Provider); ok && !spec.ActsOn(ev.Event.Type) {
		// As the receiver decides it (kept IGNORED while debugging): a replay applies nothing
		// flowhook does not act on, least of all an unconfirmed callback's progress.
		res := EventResult{EventID: ev.ID, Verdict: VerdictIgnored, Reason: "flowhook does not act on " + truncateText(ev.Event.Type, MaxEventTypeLen)}
		eventlog.Note(ctx, eventlog.StepVerdict, "%s: %s", res.Verdict, res.Reason)
		if err := x.work.ReplayEvent(ctx, ev, attempts, res); err != nil {
			return StoredEvent{}, before, err
		}
		return x.reread(ctx, eventID, before)
	}
	_, err = x.handle(ctx, ev, nil, PathReplay, func(ctx context.Context, res EventResult) error {
		return x.work.ReplayEvent(ctx, ev, attempts, res)
	})
	if errors.Is(err, ErrRetryLater) {
		// Its work item is still unknown and the orphan window open, or an earlier callback of
		// its item is still being processed: it waits, with its job.
		why := "waiting for an earlier notification of its work item to be processed"
		if errors.Is(err, ErrNotCoupled) {
			why = "waiting for its work item to be coupled"
		}
		res := EventResult{EventID: ev.ID, Verdict: VerdictPending, Reason: why}
		eventlog.Note(ctx, eventlog.StepVerdict, "PENDING: %s", res.Reason)
		err = x.work.ReplayEvent(ctx, ev, attempts, res)
	}
	if err != nil {
		return StoredEvent{}, before, err
	}
	return x.reread(ctx, eventID, before)
}

func (x *External) reread(ctx context.Context, eventID string, before Verdict) (StoredEvent, Verdict, error) {
	ev, err := x.work.GetEvent(ctx, eventID)
	return ev, before, err
}

func reasonSuffix(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + truncateText(reason, 200) + ")"
}

func occurred(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return ", at " + t.UTC().Format(time.RFC3339Nano)
}

// PurgeEventLog deletes what the Event Log keeps beyond the retention, in batches, and returns
// how many rows went.
func PurgeEventLog(ctx context.Context, log EventLogStore, security *Security, clock Clock) (int, error) {
	st, err := security.Get(ctx)
	if err != nil {
		return 0, err
	}
	cutoff := clock.Now().Add(-time.Duration(st.EventRetentionDays) * 24 * time.Hour)
	total := 0
	for {
		n, err := log.PurgeEvents(ctx, cutoff, 1000)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}
