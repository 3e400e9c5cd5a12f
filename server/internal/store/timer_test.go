package store_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
)

// watchingJobs is a jobRecorder that is also told which jobs committed (store.CommitWatcher).
type watchingJobs struct {
	jobRecorder
	mu        sync.Mutex
	committed []engine.Job
}

func (w *watchingJobs) InsertTx(ctx context.Context, tx *sql.Tx, jobs ...engine.Job) error {
	return w.jobRecorder.InsertTx(ctx, tx, jobs...)
}

func (w *watchingJobs) Committed(jobs []engine.Job) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.committed = append(w.committed, jobs...)
}

func (w *watchingJobs) seen() []engine.Job {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]engine.Job(nil), w.committed...)
}

// TestDeadlines: an instance's deadline is kept (to the millisecond) and cleared; the overdue
// filter and the scan of timers due soon see open instances with a deadline before the time
// given, and nothing else; the watcher hears of the timers that committed, and only those.
func TestDeadlines(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			watch := &watchingJobs{}
			st := f.st.WithJobs(watch)
			ctx := context.Background()
			base := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
			at := func(min int) *time.Time {
				t := base.Add(time.Duration(min) * time.Minute).Add(123 * time.Millisecond)
				return &t
			}

			soon := f.newInstance(t, base, func(in *engine.Instance) { in.Deadline = at(5) })
			later := f.newInstance(t, base.Add(time.Second), func(in *engine.Instance) { in.Deadline = at(60) })
			none := f.newInstance(t, base.Add(2*time.Second), nil)
			f.newInstance(t, base.Add(3*time.Second), func(in *engine.Instance) { // ended: never overdue
				in.Deadline, in.Status, in.EndedAt = at(1), engine.StatusCompleted, at(0)
			})
			got, err := st.GetInstance(ctx, soon.ID)
			require.NoError(t, err)
			require.NotNil(t, got.Deadline)
			require.True(t, at(5).Equal(*got.Deadline), "%s", got.Deadline)
			require.Nil(t, none.Deadline)

			overdue := func(before time.Time) []string {
				list, _, total, err := st.ListInstances(ctx, engine.InstanceFilter{OverdueBefore: before}, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Equal(t, engine.Total{N: int64(len(list))}, total)
				return idsOf(list)
			}
			require.Empty(t, overdue(*at(5)), "before is exclusive")
			require.Equal(t, []string{soon.ID}, overdue(*at(6)))
			require.Equal(t, []string{later.ID, soon.ID}, overdue(*at(61)), "newest first; never the ended one")

			due, err := st.TimersDue(ctx, *at(61), 10)
			require.NoError(t, err)
			require.Equal(t, []engine.StateTimeoutJob{
				{InstanceID: soon.ID, StateKey: "review", Deadline: *at(5)},
				{InstanceID: later.ID, StateKey: "review", Deadline: *at(60)},
			}, due, "soonest first")
			due, err = st.TimersDue(ctx, *at(61), 1)
			require.NoError(t, err)
			require.Len(t, due, 1)

			// Leaving the state clears it; the timer of the new state is heard of once committed.
			moved := soon
			moved.StateKey, moved.Deadline = "next", at(90)
			timer := engine.StateTimeoutJob{InstanceID: soon.ID, StateKey: "next", Deadline: *at(90)}
			_, err = st.UpdateInstance(ctx, moved, soon.Revision, nil, engine.Effects{Jobs: []engine.Job{timer}})
			require.NoError(t, err)
			require.Equal(t, []engine.Job{timer}, watch.seen())
			_, err = st.UpdateInstance(ctx, moved, soon.Revision, nil, engine.Effects{Jobs: []engine.Job{timer}})
			require.ErrorIs(t, err, engine.ErrConflict)
			require.Len(t, watch.seen(), 1, "a rolled back timer is not armed")
			moved.Deadline = nil
			cleared, err := st.UpdateInstance(ctx, moved, soon.Revision+1, nil, engine.Effects{})
			require.NoError(t, err)
			require.Nil(t, cleared.Deadline)
			require.Equal(t, []string{later.ID}, overdue(*at(100)))
		})
	}
}

// TestExpiredWorkItems: a timeout makes a WAITING work item EXPIRED with its outcome, in the
// instance's change, only at the revision read: an outcome that landed first wins.
func TestExpiredWorkItems(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			coupled, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-expire", engine.Activity{Kind: engine.ActivityExternalProgress, CreatedAt: time.Now()})
			require.NoError(t, err)
			cur, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)

			now := time.Now()
			stale := coupled.WorkItem
			stale.Revision-- // read before the coupling
			stale.Status, stale.Outcome, stale.ResolvedAt, stale.UpdatedAt = engine.WorkItemExpired, engine.OutcomeExpired, &now, now
			moved := cur
			moved.StateKey, moved.Status = "done", engine.StatusCompleted
			_, err = f.st.UpdateInstance(ctx, moved, cur.Revision, nil, engine.Effects{ExpiredWorkItems: []engine.WorkItem{stale}})
			require.ErrorIs(t, err, engine.ErrConflict)
			still, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, "sign", still.StateKey, "nothing of the change committed")

			fresh := stale
			fresh.Revision = coupled.Revision
			_, err = f.st.UpdateInstance(ctx, moved, cur.Revision, nil, engine.Effects{ExpiredWorkItems: []engine.WorkItem{fresh}})
			require.NoError(t, err)
			got, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, engine.WorkItemExpired, got.Status)
			require.Equal(t, engine.OutcomeExpired, got.Outcome)
			require.NotNil(t, got.ResolvedAt)
			require.Equal(t, "env-expire", got.ExternalID)
		})
	}
}
