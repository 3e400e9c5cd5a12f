package worker

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/testlog"
)

// panicArgs is a job for this test only, whose worker panics.
type panicArgs struct{}

func (panicArgs) Kind() string { return "test_panic" }

type panicWorker struct {
	river.WorkerDefaults[panicArgs]
}

func (panicWorker) Work(context.Context, *river.Job[panicArgs]) error { panic("boom in a job") }

// TestJobPanicIsAFailedAttempt: a job that panics fails its attempt with ErrPanic's message, is
// retried later, and the panic is logged at ERROR with the job's kind and id; the queue goes on.
func TestJobPanicIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			var logs testlog.Buffer // the queue's goroutines write it
			q, err := New(db, slog.New(slog.NewJSONHandler(&logs, nil)), Options{FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond})
			require.NoError(t, err)
			river.AddWorker(q.Workers(), panicWorker{})
			ctx := context.Background()
			tx, err := db.SQL.BeginTx(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, q.InsertTx(ctx, tx, panicArgs{}))
			require.NoError(t, tx.Commit())
			require.NoError(t, q.Start(ctx))
			defer func() { require.NoError(t, q.Stop(ctx)) }()

			var job *rivertype.JobRow
			require.Eventually(t, func() bool {
				jobs, err := q.client.JobList(ctx, river.NewJobListParams().Kinds("test_panic"))
				if err != nil || len(jobs.Jobs) != 1 {
					return false
				}
				job = jobs.Jobs[0]
				return len(job.Errors) > 0
			}, 30*time.Second, 20*time.Millisecond)
			require.Contains(t, []rivertype.JobState{rivertype.JobStateRetryable, rivertype.JobStateAvailable, rivertype.JobStateRunning},
				job.State, "to be retried, not completed nor discarded")
			require.Contains(t, job.Errors[0].Error, ErrPanic.Error())
			require.Contains(t, job.Errors[0].Error, "boom in a job")
			require.Empty(t, job.Errors[0].Trace, "recovered by our middleware, not by River (which keeps a trace)")
			out := logs.String()
			require.Contains(t, out, `"level":"ERROR","msg":"job panicked"`)
			require.Contains(t, out, `"job_kind":"test_panic"`)
			require.Contains(t, out, `"job_id":`+strconv.FormatInt(job.ID, 10))
			require.Contains(t, out, `"stack":`)
		})
	}
}
