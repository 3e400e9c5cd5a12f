package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// ReconcileStore is the persistence port of reconciliation.
type ReconcileStore interface {
	// WorkItemsToReconcile returns up to limit WAITING work items of the system that nobody
	// asked the system about since checkedBefore, the longest unasked first.
	WorkItemsToReconcile(ctx context.Context, s System, checkedBefore time.Time, limit int) ([]WorkItem, error)
	// ClaimCheck records that the system is asked about a work item at, when nobody asked since
	// checkedBefore (another run, on this replica or another, may have claimed it since it was
	// listed): false when somebody did, and this run leaves it.
	ClaimCheck(ctx context.Context, workItemID string, at, checkedBefore time.Time) (bool, error)
}

// ReconcileReport says what a reconciliation run did.
type ReconcileReport struct {
	// Checked is how many work items the providers were asked about.
	Checked int
	// Outcomes is how many had reached an outcome at their provider.
	Outcomes int
	// Stored is how many of those became new events (a webhook may have told us already), or
	// processed again an earlier run's event for the same status that was given up.
	Stored int
	// Problems are readable errors (a provider not configured or failing), never credentials.
	Problems []string
}

// ReconcileActor is who replays an event reconciliation stored and its processing gave up.
const ReconcileActor = "reconciliation"

// SourceHeader marks an event that reconciliation made (its body is not the provider's).
const SourceHeader = "X-Flowhook-Source"

// Reconciler catches up on notifications a provider never delivered (OneSpan does not resend
// a failed callback; DocuSign gives up after its retries): it asks the systems about work
// items still WAITING and feeds any outcome it finds through the webhook pipeline, as the event
// the system would have sent, so that it is stored, deduplicated, routed and confirmed exactly
// like one. A provider takes part when its spec has a ReconcileInterval and a StatusEvent; a
// system that cannot say (a connector without a status URL) is left out.
type Reconciler struct {
	store     ReconcileStore
	external  *External
	providers Providers
	clock     Clock
}

// NewReconciler returns a reconciler.
func NewReconciler(store ReconcileStore, external *External, providers Providers, clock Clock) *Reconciler {
	return &Reconciler{store: store, external: external, providers: providers, clock: clock}
}

// Run reconciles up to limit work items of each system (only: one provider's systems;
// unspecified: every provider's).
func (r *Reconciler) Run(ctx context.Context, only Provider, limit int) (ReconcileReport, error) {
	var rep ReconcileReport
	for _, spec := range r.providers.Specs() {
		if spec.ReconcileInterval <= 0 || spec.StatusEvent == nil || (only != ProviderUnspecified && only != spec.Provider) {
			continue
		}
		systems, err := r.providers.Systems(ctx, spec.Provider)
		if err != nil {
			return rep, err
		}
		for _, sys := range systems {
			if err := r.system(ctx, spec, sys, limit, &rep); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// system reconciles the work items of one system.
func (r *Reconciler) system(ctx context.Context, spec ProviderSpec, sys System, limit int, rep *ReconcileReport) error {
	now := r.clock.Now()
	items, err := r.store.WorkItemsToReconcile(ctx, sys, now.Add(-spec.ReconcileInterval), limit)
	if err != nil || len(items) == 0 {
		return err
	}
	client, err := r.providers.Client(ctx, sys)
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %s", sys, providerErrorText(err)))
		return nil
	}
	for i, wi := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Claimed before it is asked: two runs at once (the periodic job and an
		// administrator's, on two replicas) ask about each item once.
		claimed, err := r.store.ClaimCheck(ctx, wi.ID, now, now.Add(-spec.ReconcileInterval))
		if err != nil {
			return err
		}
		if !claimed {
			continue
		}
		st, err := client.Status(ctx, wi.ExternalID)
		if errors.Is(err, ErrNotSupported) {
			return nil // the system cannot be asked
		}
		rep.Checked++
		if err != nil && ctx.Err() != nil {
			return ctx.Err() // the run's own time is up (the job snoozes to go on), not the system
		}
		if err != nil && systemDown(err) {
			// Asking about the next item would fail the same way (and spend a rate limit
			// already spent, or mark every item checked for nothing): the rest wait for the
			// next run.
			p := fmt.Sprintf("%s %s: %s", sys, wi.ExternalID, providerErrorText(err))
			if left := len(items) - i - 1; left > 0 {
				p += fmt.Sprintf("; the %d other item(s) of %s due are asked next run", left, sys)
			}
			rep.Problems = append(rep.Problems, p)
			return nil
		}
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s: %s", sys, wi.ExternalID, providerErrorText(err)))
			continue
		}
		// The status and reason are the system's words, stored and shown: as text PostgreSQL
		// keeps (the status is in the event's dedupe key).
		st.Status, st.Reason = CleanLine(st.Status), CleanProse(st.Reason)
		eventType := spec.StatusEvent(st)
		if _, terminal, err := r.external.WorkItemOutcome(ctx, wi, eventType, st.Reason); err != nil {
			return err
		} else if !terminal {
			continue // still waiting at the system too
		}
		rep.Outcomes++
		created, err := r.feed(ctx, wi, st, eventType)
		var rb *ReadBackError
		if errors.As(err, &rb) {
			// Its read-back failed again: the system's words, and the next run asks again.
			rep.Problems = append(rep.Problems, rb.Error())
			continue
		}
		if err != nil {
			return err
		}
		if created {
			rep.Stored++
		}
	}
	return nil
}

// systemDown says whether a status read failed for the system's sake, not the item's: it
// cannot answer now (429, a 5xx, no answer at all) or refuses flowhook's credentials (401).
// An item it does not know (404) or refuses to show (403: another sender's package, say) is
// the item's.
func systemDown(err error) bool {
	var pe *ProviderError
	if !errors.As(err, &pe) {
		return true
	}
	if pe.Gone {
		return false
	}
	switch s := pe.HTTPStatus; {
	case s == 0, s == http.StatusUnauthorized, s == http.StatusTooManyRequests, s >= 500:
		return true
	}
	return false
}

// reconciledBody is the body of the event reconciliation stores for a status it found (what
// External.withPayload reads its status and reason from again).
type reconciledBody struct {
	Source     string    `json:"source"`
	Provider   string    `json:"provider"`
	ExternalID string    `json:"externalId"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason"`
	ChangedAt  time.Time `json:"changedAt"`
}

// feed stores the event the provider would have sent for st and processes it.
func (r *Reconciler) feed(ctx context.Context, wi WorkItem, st ExternalStatus, eventType string) (bool, error) {
	p := wi.System
	body, err := json.Marshal(reconciledBody{Source: "reconciliation", Provider: p.String(), ExternalID: wi.ExternalID,
		Status: st.Status, Reason: st.Reason, ChangedAt: st.ChangedAt})
	if err != nil {
		return false, err
	}
	at := st.ChangedAt
	ev := StoredEvent{
		Event: InboundEvent{System: p, Type: eventType, ExternalID: wi.ExternalID, OccurredAt: at, Status: st.Status, Reason: st.Reason,
			// One event per status found: a second run that finds the same is a duplicate.
			DedupeKey: "reconcile:" + wi.ExternalID + ":" + st.Status},
		Body: body, Size: int64(len(body)), Headers: map[string]string{SourceHeader: "reconciliation"}, RemoteAddr: "reconciliation",
	}
	x := r.external
	var trail *eventlog.Trail
	if x.Log != nil && x.Debug(ctx) {
		trail = eventlog.NewTrail(r.clock.Now)
		ctx = eventlog.With(ctx, trail)
	}
	eventlog.Note(ctx, eventlog.StepReceived, "reconciliation asked %s: %s is %q", p, wi.ExternalID, st.Status)
	saved, created, err := x.Receive(ctx, ev)
	if errors.Is(err, ErrConflict) {
		return false, nil // a webhook is applying it right now
	}
	if err != nil {
		return false, err
	}
	if trail != nil {
		_ = x.Log.AppendEventLog(context.WithoutCancel(ctx), saved.ID, trail.Entries())
	}
	if !created && saved.Verdict == VerdictIgnored && strings.HasPrefix(saved.Reason, givenUpReason) {
		// The event a run stored for this status was given up (its read-back failed on every
		// attempt of its job: OneSpan down for hours, its API key being rotated) and the item
		// still waits: it is processed again, as an administrator's replay would, its story
		// saying so. A run finding the same status again would otherwise find it a duplicate,
		// and the item would wait for good.
		_, _, _, err := x.Replay(ctx, saved.ID, ReconcileActor)
		if errors.Is(err, ErrConflict) {
			return false, nil
		}
		return err == nil, err
	}
	return created, nil
}
