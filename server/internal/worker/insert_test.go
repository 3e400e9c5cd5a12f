package worker

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
)

// laterArgs is a job for this test only: due at a time, with its own attempts.
type laterArgs struct {
	N  int       `json:"n"`
	At time.Time `json:"at"`
}

func (laterArgs) Kind() string             { return "test_later" }
func (a laterArgs) ScheduledAt() time.Time { return a.At }
func (laterArgs) MaxAttempts() int         { return 3 }

type laterWorker struct {
	river.WorkerDefaults[laterArgs]
}

func (laterWorker) Work(context.Context, *river.Job[laterArgs]) error { return nil }

// TestInsertTxMany: several jobs enqueued in one call (one statement) commit with the caller's
// transaction, each with its own schedule and attempts, and a rollback leaves none.
func TestInsertTxMany(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			q, err := New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
			require.NoError(t, err)
			river.AddWorker(q.Workers(), laterWorker{})
			ctx := context.Background()
			at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)

			tx, err := db.SQL.BeginTx(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, q.InsertTx(ctx, tx, laterArgs{N: 1, At: at}, laterArgs{N: 2, At: at.Add(time.Minute)}))
			require.NoError(t, tx.Rollback())
			jobs, err := q.client.JobList(ctx, river.NewJobListParams().Kinds("test_later"))
			require.NoError(t, err)
			require.Empty(t, jobs.Jobs, "rolled back")

			tx, err = db.SQL.BeginTx(ctx, nil)
			require.NoError(t, err)
			require.NoError(t, q.InsertTx(ctx, tx, laterArgs{N: 1, At: at}, laterArgs{N: 2, At: at.Add(time.Minute)}, laterArgs{N: 3, At: at}))
			require.NoError(t, q.InsertTx(ctx, tx)) // nothing to enqueue
			require.NoError(t, tx.Commit())
			jobs, err = q.client.JobList(ctx, river.NewJobListParams().Kinds("test_later").First(10))
			require.NoError(t, err)
			require.Len(t, jobs.Jobs, 3)
			got := map[int]time.Time{}
			for _, j := range jobs.Jobs {
				require.Equal(t, 3, j.MaxAttempts)
				var args laterArgs
				require.NoError(t, json.Unmarshal(j.EncodedArgs, &args))
				got[args.N] = j.ScheduledAt.UTC()
			}
			require.Equal(t, map[int]time.Time{1: at, 2: at.Add(time.Minute), 3: at}, got)
		})
	}
}
