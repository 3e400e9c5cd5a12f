package worker

import (
	"context"
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
