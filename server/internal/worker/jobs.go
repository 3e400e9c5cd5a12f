package worker

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// Register adds flowhook's workers to a River bundle; purge deletes what the Event Log keeps
// beyond its retention and says how many rows went.
func Register(workers *river.Workers, creator *engine.Creator, external *engine.External, reconciler *engine.Reconciler, purge func(context.Context) (int, error)) {
	river.AddWorker(workers, &reconcileWorker{reconciler: reconciler})
	river.AddWorker(workers, &createWorker{creator: creator})
	river.AddWorker(workers, &processWorker{external: external})
	river.AddWorker(workers, &cancelWorker{creator: creator})
	river.AddWorker(workers, &purgeWorker{purge: purge})
}

type purgeWorker struct {
	river.WorkerDefaults[engine.PurgeEventLogJob]
	purge func(context.Context) (int, error)
}

func (w *purgeWorker) Work(ctx context.Context, _ *river.Job[engine.PurgeEventLogJob]) error {
	_, err := w.purge(ctx)
	return err
}

type createWorker struct {
	river.WorkerDefaults[engine.CreateWorkItemJob]
	creator *engine.Creator
}

func (w *createWorker) Work(ctx context.Context, job *river.Job[engine.CreateWorkItemJob]) error {
	// Any attempt after the first may follow one that reached the provider, and so may the
	// first attempt of a job RetryInstance enqueued for a work item that failed.
	return w.creator.Create(ctx, job.Args.WorkItemID, job.Args.Retried || job.Attempt > 1, job.Attempt >= job.MaxAttempts)
}

// NextRetry is River's backoff, but never sooner than creationRetryDelay after the failed
// attempt: it may have reached the provider, which may still be creating the item, and the
// retry looks for it by our id (River's first retry, a second later, would miss it and create
// a second one). An attempt River rescued (its replica died) ran until the rescue: it waits the
// cap.
func (w *createWorker) NextRetry(job *river.Job[engine.CreateWorkItemJob]) time.Time {
	now := time.Now()
	ran := time.Duration(0)
	if job.AttemptedAt != nil {
		ran = now.Sub(*job.AttemptedAt)
	}
	at := (&river.DefaultClientRetryPolicy{}).NextRetry(job.JobRow)
	if soonest := now.Add(creationRetryDelay(ran)); at.Before(soonest) {
		return soonest
	}
	return at
}

type processWorker struct {
	river.WorkerDefaults[engine.ProcessEventJob]
	external eventProcessor
}

// eventProcessor is what a process_event job asks of engine.External.
type eventProcessor interface {
	Process(ctx context.Context, eventID string) (engine.Verdict, error)
	GiveUp(ctx context.Context, eventID string, attempts int, cause error) error
}

func (w *processWorker) Work(ctx context.Context, job *river.Job[engine.ProcessEventJob]) error {
	if job.Attempt >= job.MaxAttempts {
		defer func() {
			if v := recover(); v != nil {
				// The last attempt gives its event up even when it panics (River discards the
				// job: left PENDING, the event would hold its item's later callbacks for
				// good); the panic goes on to the recoverer, which logs it and fails the
				// attempt.
				_ = w.external.GiveUp(ctx, job.Args.EventID, job.Attempt, engine.ErrPanicked)
				panic(v)
			}
		}()
	}
	_, err := w.external.Process(ctx, job.Args.EventID)
	switch {
	case errors.Is(err, engine.ErrRetryLater):
		// The work item is not coupled yet: look again soon, without spending an attempt.
		// CoupleWorkItem also re-enqueues the event the moment the coupling commits.
		return river.JobSnooze(snooze(snoozes(job.Metadata)))
	case err != nil && job.Attempt >= job.MaxAttempts:
		if gerr := w.external.GiveUp(ctx, job.Args.EventID, job.Attempt, err); gerr != nil {
			return errors.Join(err, gerr)
		}
		return nil
	}
	return err
}

// snooze grows from one second to a minute with the job's snoozes so far.
func snooze(snoozed int) time.Duration {
	d := time.Second << min(snoozed, 6)
	return min(d, time.Minute)
}

// snoozes is how many times River snoozed a job: the "snoozes" of its metadata. A snooze
// spends no attempt (River takes back the one it counted), so job.Attempt stays where it was
// and the backoff could not grow from it: every snooze was 2 s, some 450 runs over an
// orphan's 15 minutes instead of about 20.
func snoozes(metadata []byte) int {
	var m struct {
		Snoozes int `json:"snoozes"`
	}
	_ = json.Unmarshal(metadata, &m) // none or unreadable: 0
	return m.Snoozes
}

type cancelWorker struct {
	river.WorkerDefaults[engine.CancelWorkItemJob]
	creator *engine.Creator
}

func (w *cancelWorker) Work(ctx context.Context, job *river.Job[engine.CancelWorkItemJob]) error {
	return w.creator.Cancel(ctx, job.Args.WorkItemID, job.Args.Reason, job.Attempt >= job.MaxAttempts)
}

type reconcileWorker struct {
	river.WorkerDefaults[engine.ReconcileJob]
	reconciler *engine.Reconciler
}

// Work asks providers about up to 500 work items each, one at a time, oldest checked first:
// past its budget it snoozes and goes on with those not checked yet (budgeted).
func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[engine.ReconcileJob]) error {
	return budgeted(ctx, func(ctx context.Context) error {
		_, err := w.reconciler.Run(ctx, engine.ProviderUnspecified, 500)
		return err
	})
}

// budgeted runs a long housekeeping job's work (reconciliation, retention) with three
// quarters of the attempt's deadline (the queue's job timeout) and, when that runs out before
// the work is done, snoozes the job to go on where it stopped: the work commits as it goes
// (items checked, batches erased). So no attempt outlasts the job timeout, and one left
// running by a killed replica is rescued after 1.5 × that timeout. Until session 43 these
// jobs had a timeout of 30 minutes of their own, and a replica killed while running one left
// it running for 45 (the soak found an erase_by_retention job stranded so).
func budgeted(ctx context.Context, work func(context.Context) error) error {
	deadline, ok := ctx.Deadline()
	if !ok {
		return work(ctx)
	}
	bctx, cancel := context.WithTimeout(ctx, time.Until(deadline)*3/4)
	defer cancel()
	err := work(bctx)
	if err != nil && bctx.Err() != nil && ctx.Err() == nil {
		return river.JobSnooze(time.Second)
	}
	return err
}
