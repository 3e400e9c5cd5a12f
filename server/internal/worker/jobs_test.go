package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
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

// TestCreateRetryWaits: a create_work_item job's retry comes no sooner than creationRetryDelay
// after its failed attempt (the attempt may have reached the provider, which may still be
// making the item its retry looks for): as long again as the attempt ran, at least
// creationRetryMin (River's first retry comes after a second), at most creationRetryMax (a job
// River rescued ran until the rescue); River's backoff when that is longer.
func TestCreateRetryWaits(t *testing.T) {
	t.Parallel()
	require.Equal(t, creationRetryMin, creationRetryDelay(0))
	require.Equal(t, 30*time.Second, creationRetryDelay(30*time.Second))
	require.Equal(t, creationRetryMax, creationRetryDelay(10*time.Minute))

	w := &createWorker{}
	for _, tc := range []struct {
		name     string
		ran      time.Duration // since the failed attempt began; -1: no AttemptedAt
		errors   int           // of earlier attempts
		min, max time.Duration // of the wait from now
	}{
		{"failed at once, first attempt", time.Millisecond, 0, creationRetryMin, creationRetryMin + time.Second},
		{"no attempt time", -1, 0, creationRetryMin, creationRetryMin + time.Second},
		{"a slow provider", 30 * time.Second, 0, 30 * time.Second, 31 * time.Second},
		{"timed out at the job timeout", 2 * time.Minute, 0, creationRetryMax, creationRetryMax + time.Second},
		{"rescued", 4 * time.Minute, 1, creationRetryMax, creationRetryMax + time.Second},
		// River's backoff after the fifth attempt, 5⁴ s ± 10 %, is longer.
		{"River's backoff is longer", time.Millisecond, 4, 562 * time.Second, 688 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			row := &rivertype.JobRow{Attempt: tc.errors + 1, Errors: make([]rivertype.AttemptError, tc.errors)}
			if tc.ran >= 0 {
				at := before.Add(-tc.ran)
				row.AttemptedAt = &at
			}
			next := w.NextRetry(&river.Job[engine.CreateWorkItemJob]{JobRow: row})
			require.WithinRange(t, next, before.Add(tc.min), time.Now().Add(tc.max))
		})
	}
}

// panickingProcessor panics in Process and records what it gave up.
type panickingProcessor struct{ givenUp []error }

func (*panickingProcessor) Process(context.Context, string) (engine.Verdict, error) {
	panic("boom in processing")
}

func (p *panickingProcessor) GiveUp(_ context.Context, _ string, _ int, cause error) error {
	p.givenUp = append(p.givenUp, cause)
	return nil
}

// TestLastAttemptPanicGivesUp: a process_event job whose last attempt panics still gives its
// event up (left PENDING by the discarded job, it would hold its item's later callbacks for
// good), saying it panicked, and the panic goes on to the recoverer; an earlier attempt's
// panic is only the recoverer's (the job is retried).
func TestLastAttemptPanicGivesUp(t *testing.T) {
	t.Parallel()
	for _, last := range []bool{false, true} {
		p := &panickingProcessor{}
		w := &processWorker{external: p}
		job := &river.Job[engine.ProcessEventJob]{JobRow: &rivertype.JobRow{Attempt: 3, MaxAttempts: engine.ProcessEventAttempts},
			Args: engine.ProcessEventJob{EventID: "e-1"}}
		if last {
			job.Attempt = engine.ProcessEventAttempts
		}
		require.PanicsWithValue(t, "boom in processing", func() { _ = w.Work(context.Background(), job) })
		if last {
			require.Equal(t, []error{engine.ErrPanicked}, p.givenUp)
		} else {
			require.Empty(t, p.givenUp)
		}
	}
}
