package worker

import (
	"context"
	"time"

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

// Timeout: the first run after a retention is turned on may erase a large backlog, batch by
// batch; a run cut short commits the batches it finished and the retry goes on from there.
func (w *retentionWorker) Timeout(*river.Job[engine.RetentionJob]) time.Duration {
	return 30 * time.Minute
}

func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[engine.RetentionJob]) error {
	_, err := w.retention.Run(ctx)
	return err
}
