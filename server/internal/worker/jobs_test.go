package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestSnoozeGrowsWithRiversCount: a process_event job's snooze grows with the snoozes River
// records in its metadata (a snooze spends no attempt, so job.Attempt stays where it was:
// growing from it, every snooze was 2 s).
func TestSnoozeGrowsWithRiversCount(t *testing.T) {
	t.Parallel()
	for metadata, want := range map[string]time.Duration{
		``:                  time.Second,
		`{}`:                time.Second,
		`{"snoozes": 1}`:    2 * time.Second,
		`{"snoozes": 3}`:    8 * time.Second,
		`{"snoozes": 6}`:    time.Minute,
		`{"snoozes": 900}`:  time.Minute,
		`{"snoozes": "x"}`:  time.Second,
		`not json`:          time.Second,
		`{"other": "kept"}`: time.Second,
	} {
		require.Equal(t, want, snooze(snoozes([]byte(metadata))), metadata)
	}
}

// TestProcessEventJobAttempts: a process_event job is inserted with its own bound on failed
// attempts (engine.ProcessEventAttempts, about eleven hours of River's backoff), after which it
// gives its event up, rather than River's default 25 (three weeks, then the event stranded).
func TestProcessEventJobAttempts(t *testing.T) {
	t.Parallel()
	db := dbtest.Open(t, dbtest.Dialects[0])
	q, err := New(db, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	require.NoError(t, err)
	river.AddWorker(q.Workers(), &processWorker{})
	ctx := context.Background()
	tx, err := db.SQL.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, q.InsertTx(ctx, tx, engine.ProcessEventJob{EventID: "e-1"}))
	require.NoError(t, tx.Commit())
	jobs, err := q.client.JobList(ctx, river.NewJobListParams().Kinds("process_event"))
	require.NoError(t, err)
	require.Len(t, jobs.Jobs, 1)
	require.Equal(t, engine.ProcessEventAttempts, jobs.Jobs[0].MaxAttempts)
}

// TestBudgeted: a housekeeping job's work runs within three quarters of its attempt's
// deadline; cut short by that budget (not by the attempt's own end) it snoozes, to go on where
// it stopped; done in time, or failing otherwise, it answers as the work did; with no
// deadline it runs as is.
func TestBudgeted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var left time.Duration
	err := budgeted(ctx, func(ctx context.Context) error {
		deadline, _ := ctx.Deadline()
		left = time.Until(deadline)
		<-ctx.Done() // a backlog longer than the budget
		return ctx.Err()
	})
	var snooze *river.JobSnoozeError
	require.ErrorAs(t, err, &snooze)
	require.Equal(t, time.Second, snooze.Duration)
	require.LessOrEqual(t, left, 150*time.Millisecond, "three quarters of the attempt's time")
	require.NoError(t, ctx.Err(), "the budget ended first")

	require.NoError(t, budgeted(context.Background(), func(ctx context.Context) error {
		_, has := ctx.Deadline()
		require.False(t, has)
		return nil
	}))
	failing := errors.New("the database is unavailable")
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	require.ErrorIs(t, budgeted(ctx2, func(context.Context) error { return failing }), failing)
}
