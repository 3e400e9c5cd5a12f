package worker

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/flowhook/flowhook/server/internal/engine"
)

// RegisterRetention adds the retention worker: the periodic job (Options.RetentionInterval)
// erases what finished instances keep beyond the security settings' retentions.
func RegisterRetention(workers *river.Workers, retention *engine.Retention) {
	river.AddWorker(workers, &retentionWorker{retention: retention})
}

type retentionWorker struct {
	river.WorkerDefaults[engine.RetentionJob]
	retention *engine.Retention
}

// Work: the first run after a retention is turned on may erase a large backlog, batch by
// batch; past its budget it snoozes, keeping the batches it finished, and goes on from there
// (budgeted).
func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[engine.RetentionJob]) error {
	return budgeted(ctx, func(ctx context.Context) error {
		_, err := w.retention.Run(ctx)
		return err
	})
}
