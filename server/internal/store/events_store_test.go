package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// TestEventsDue: an event stored PENDING gets no River job but a mark, and the queue is told
// once it commits. Its result clears the mark (FinishEvent). HandOverEvent gives an event
// still due its River job, once; the sweep (HandOverDueEvents) hands the marks older than its
// cutoff over, a batch at a time, each once. A replay's verdict clears the mark as well.
func TestEventsDue(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			due := func() int64 {
				t.Helper()
				n, err := f.st.EventsDue(ctx)
				require.NoError(t, err)
				return n
			}
			require.Zero(t, due())

			// Processed in-process: the result clears the mark.
			done := coupleEvent(t, f.st, coupleOneSpan, "pkg-1", "PACKAGE_COMPLETE")
			require.Equal(t, []string{done.ID}, processJobs(f.jobs.told()))
			require.Empty(t, f.jobs.all(), "no River job")
			require.EqualValues(t, 1, due())
			n, err := f.st.HandOverDueEvents(ctx, time.Now().Add(-time.Minute), 10)
			require.NoError(t, err)
			require.Zero(t, n, "a mark younger than the cutoff stays for in-process processing")
			require.NoError(t, f.st.FinishEvent(ctx, engine.EventResult{EventID: done.ID, Verdict: engine.VerdictIgnored, Reason: "unconfirmed"}))
			require.Zero(t, due())
			require.NoError(t, f.st.HandOverEvent(ctx, done.ID))
			require.Empty(t, f.jobs.all(), "a processed event is not handed over")

			// Replayed while still due (an administrator was quicker than its processing): the
			// replay's verdict clears the mark too, so the sweep has nothing to hand over.
			replayed := coupleGet(t, f.st, coupleEvent(t, f.st, coupleOneSpan, "pkg-2", "PACKAGE_COMPLETE").ID)
			require.EqualValues(t, 1, due())
			require.NoError(t, f.st.ReplayEvent(ctx, replayed, replayed.Attempts,
				engine.EventResult{EventID: replayed.ID, Verdict: engine.VerdictIgnored, Reason: "unconfirmed"}))
			require.Zero(t, due())
			n, err = f.st.HandOverDueEvents(ctx, time.Now().Add(time.Second), 10)
			require.NoError(t, err)
			require.Zero(t, n)
			require.Empty(t, f.jobs.all())

			// Not finished in-process (its work item is not coupled yet): handed over at once,
			// once; River has it from then on, and its result still lands once.
			early := coupleEvent(t, f.st, coupleDocuSign, "env-early", "envelope-completed")
			require.NoError(t, f.st.HandOverEvent(ctx, early.ID))
			require.Equal(t, []string{early.ID}, processJobs(f.jobs.all()))
			require.Zero(t, due())
			require.NoError(t, f.st.HandOverEvent(ctx, early.ID))
			require.Len(t, f.jobs.all(), 1, "handed over once")
			require.Equal(t, engine.VerdictPending, coupleGet(t, f.st, early.ID).Verdict)
			require.ErrorIs(t, f.st.HandOverEvent(ctx, "not-an-id"), engine.ErrNotFound)

			// Left behind (a replica died): the sweep hands them over a batch at a time, each
			// once.
			left := make([]string, 3)
			for i := range left {
				left[i] = coupleEvent(t, f.st, coupleOneSpan, "pkg-left", "PACKAGE_COMPLETE").ID
			}
			require.EqualValues(t, 3, due())
			cutoff := time.Now().Add(time.Second)
			n, err = f.st.HandOverDueEvents(ctx, cutoff, 2)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			n, err = f.st.HandOverDueEvents(ctx, cutoff, 2)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = f.st.HandOverDueEvents(ctx, cutoff, 2)
			require.NoError(t, err)
			require.Zero(t, n)
			require.Zero(t, due())
			// As a set: ids made in the same millisecond do not sort in arrival order.
			require.ElementsMatch(t, append([]string{early.ID}, left...), processJobs(f.jobs.all()))
		})
	}
}
