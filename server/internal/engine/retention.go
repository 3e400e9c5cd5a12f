package engine

import (
	"context"
	"fmt"
	"time"
)

// Erasure asks the store to erase one kind of data of finished instances.
type Erasure struct {
	// Statuses are the statuses whose instances are erased (RetainedStatuses).
	Statuses []InstanceStatus
	// EndedBefore: only instances that ended before it.
	EndedBefore time.Time
	// Limit bounds the instances of one call (one transaction).
	Limit int
	// Activity is appended to the timeline of each instance erased; its CreatedAt is the
	// time the instance records as erased.
	Activity Activity
}

// RetentionStore is the persistence port of retention. Each call is one transaction over up
// to Limit instances and returns how many it erased; 0 when none is left. An instance is
// erased at most once per kind: a racing run (another replica) erases it or skips it, never
// both.
type RetentionStore interface {
	// EraseFormData empties the form data of instances whose form data is not erased yet,
	// sets their FormDataErasedAt, and removes the values of their timeline's field changes
	// (the field names stay, and so does the rest of every entry). In the same transaction
	// it erases the bodies of their webhook events (those decided for them, and every other
	// event of their work items' ids), which carry the same people's names and emails: see
	// ErasedHeader.
	EraseFormData(ctx context.Context, e Erasure) (int, error)
	// EraseDocuments deletes the signed documents of instances that still have some (one a
	// late fetch saved after an earlier erasure too), and sets their DocumentsErasedAt.
	// Instances that never had one are left as they are: nothing of theirs was erased.
	EraseDocuments(ctx context.Context, e Erasure) (int, error)
}

// ErasedHeader marks a webhook event whose body retention erased with its instance's form
// data; its value is the erasure's message. The event keeps its row, its dedupe key (a
// redelivery is still a duplicate) and its verdict, but its body is empty, a verdict reason
// is "[erased]", as are the messages of the steps that may quote a body (PARSED, VERDICT,
// REPLAYED, ERROR), and it cannot be replayed: there is nothing left to read again. A PENDING
// one is still processed (processing reads the stored fields, never the body). The Event
// Log shows the header with the event's others, as it shows SourceHeader.
const ErasedHeader = "X-Flowhook-Erased"

// RetainedStatuses are the finished statuses retention erases. A FAILED instance is not
// finished: an admin may still retry it (RetryInstance), and its step needs its data.
var RetainedStatuses = []InstanceStatus{StatusCompleted, StatusCancelled}

// RetentionBatch is how many instances one transaction erases: a large backlog (retention
// just turned on) neither holds one huge transaction nor stops after the first batch.
const RetentionBatch = 500

// Erased says what a retention run erased: how many instances lost their form data, and how
// many their signed documents.
type Erased struct {
	FormData  int
	Documents int
}

// Retention erases what finished instances keep beyond the security settings' retentions
// (form_data_retention_days, document_retention_days), counted from when each ended. The
// instance and its timeline stay, with an ERASED entry saying what went; its webhook events'
// bodies go with its form data (ErasedHeader), and the Event Log has its own purge
// (PurgeEventLog) for the rest.
type Retention struct {
	store    RetentionStore
	security *Security
	clock    Clock
}

// NewRetention returns the retention job's domain side.
func NewRetention(store RetentionStore, security *Security, clock Clock) *Retention {
	return &Retention{store: store, security: security, clock: clock}
}

// RetentionJob runs Retention (periodic, daily).
type RetentionJob struct{}

func (RetentionJob) Kind() string { return "erase_by_retention" }

// Run erases, in batches until none is left, the form data and the signed documents of the
// finished instances past their retention. A retention of 0 erases nothing of its kind.
func (r *Retention) Run(ctx context.Context) (Erased, error) {
	var out Erased
	st, err := r.security.Get(ctx)
	if err != nil {
		return out, err
	}
	now := r.clock.Now()
	if out.FormData, err = r.erase(ctx, r.store.EraseFormData, now, st.FormDataRetentionDays, "form data"); err != nil {
		return out, err
	}
	out.Documents, err = r.erase(ctx, r.store.EraseDocuments, now, st.DocumentRetentionDays, "signed documents")
	return out, err
}

func (r *Retention) erase(ctx context.Context, erase func(context.Context, Erasure) (int, error), now time.Time, days int, what string) (int, error) {
	if days <= 0 {
		return 0, nil
	}
	e := Erasure{
		Statuses:    RetainedStatuses,
		EndedBefore: now.Add(-time.Duration(days) * 24 * time.Hour),
		Limit:       RetentionBatch,
		Activity: Activity{Kind: ActivityErased, CreatedAt: now,
			Message: fmt.Sprintf("%s erased by retention (ended more than %s ago)", what, retentionDays(days))},
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		// Until a batch finds nothing: a short batch may only mean that a racing run took
		// some of its instances.
		n, err := erase(ctx, e)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// retentionDays is "1 day", "30 days".
func retentionDays(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}
