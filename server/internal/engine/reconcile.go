package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flowhook/flowhook/server/internal/eventlog"
)

// ReconcileStore is the persistence port of reconciliation.
type ReconcileStore interface {
	// WorkItemsToReconcile returns up to limit WAITING work items of the provider that nobody
	// asked the provider about since checkedBefore, the longest unasked first.
	WorkItemsToReconcile(ctx context.Context, p Provider, checkedBefore time.Time, limit int) ([]WorkItem, error)
	// MarkChecked records when the provider was asked about a work item.
	MarkChecked(ctx context.Context, workItemID string, at time.Time) error
}

// ReconcileReport says what a reconciliation run did.
type ReconcileReport struct {
	// Checked is how many work items the providers were asked about.
	Checked int
	// Outcomes is how many had reached an outcome at their provider.
	Outcomes int
	// Stored is how many of those became new events (a webhook may have told us already).
	Stored int
	// Problems are readable errors (a provider not configured or failing), never credentials.
	Problems []string
}

// SourceHeader marks an event that reconciliation made (its body is not the provider's).
const SourceHeader = "X-Flowhook-Source"

// Reconciler catches up on notifications a provider never delivered (OneSpan does not resend
// a failed callback; DocuSign gives up after its retries): it asks the providers about work
// items still WAITING and feeds any outcome it finds through the webhook pipeline, as the event
// the provider would have sent, so that it is stored, deduplicated, routed and confirmed
// exactly like one.
type Reconciler struct {
	store    ReconcileStore
	external *External
	clients  func(context.Context, Provider) (ProviderClient, error)
	clock    Clock
	// MinInterval is the least time between two questions about one work item, per provider
	// (DocuSign: 15 minutes).
	MinInterval map[Provider]time.Duration
	// StatusEvent names the event the provider would have sent for a status; providers absent
	// from it are not reconciled.
	StatusEvent map[Provider]func(ExternalStatus) string
}

// NewReconciler returns a reconciler.
func NewReconciler(store ReconcileStore, external *External, clients func(context.Context, Provider) (ProviderClient, error), clock Clock) *Reconciler {
	return &Reconciler{store: store, external: external, clients: clients, clock: clock,
		MinInterval: map[Provider]time.Duration{}, StatusEvent: map[Provider]func(ExternalStatus) string{}}
}

// Run reconciles up to limit work items of each provider (only: one provider; unspecified:
// all of them).
func (r *Reconciler) Run(ctx context.Context, only Provider, limit int) (ReconcileReport, error) {
	var rep ReconcileReport
	for _, p := range []Provider{ProviderDocuSign, ProviderOneSpan} {
		name := r.StatusEvent[p]
		if name == nil || (only != ProviderUnspecified && only != p) {
			continue
		}
		now := r.clock.Now()
		items, err := r.store.WorkItemsToReconcile(ctx, p, now.Add(-r.MinInterval[p]), limit)
		if err != nil {
			return rep, err
		}
		if len(items) == 0 {
			continue
		}
		client, err := r.clients(ctx, p)
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %s", p, providerErrorText(err)))
			continue
		}
		for _, wi := range items {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			st, err := client.Status(ctx, wi.ExternalID)
			rep.Checked++
			if merr := r.store.MarkChecked(ctx, wi.ID, now); merr != nil {
				return rep, merr
			}
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s %s: %s", p, wi.ExternalID, providerErrorText(err)))
				continue
			}
			if !st.Outcome.Valid() {
				continue // still waiting at the provider too
			}
			rep.Outcomes++
			created, err := r.feed(ctx, p, wi, st, name(st))
			if err != nil {
				return rep, err
			}
			if created {
				rep.Stored++
			}
		}
	}
	return rep, nil
}

// feed stores the event the provider would have sent for st and processes it.
func (r *Reconciler) feed(ctx context.Context, p Provider, wi WorkItem, st ExternalStatus, eventType string) (bool, error) {
	body, err := json.Marshal(map[string]any{"source": "reconciliation", "provider": p.String(), "externalId": wi.ExternalID,
		"status": st.Status, "reason": st.Reason, "changedAt": st.ChangedAt})
	if err != nil {
		return false, err
	}
	at := st.ChangedAt
	ev := StoredEvent{
		Event: InboundEvent{Provider: p, Type: eventType, ExternalID: wi.ExternalID, OccurredAt: at, Status: st.Status, Reason: st.Reason,
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
	return created, nil
}
