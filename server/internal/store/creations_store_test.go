package store_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
	"github.com/flowhook/flowhook/server/internal/worker"
)

// TestCreationMarks: a new work item's creation is a mark, not a River job, on both
// databases. The coupling, the item's failure and its closing each clear it; a hand-over gives
// a work item still due a create_work_item job, once: with Retried set (the job then looks for
// the item by our id first) for what an attempt may have reached the provider with, without
// for what never started; the sweep hands over only marks older than its cutoff, batch after
// batch; a retry of a FAILED item is River's job, not a mark.
func TestCreationMarks(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			due := func() int64 {
				n, err := f.st.CreationsDue(ctx)
				require.NoError(t, err)
				return n
			}
			// marked starts an instance into "sign", its work item's creation due.
			marked := func() (engine.Instance, engine.WorkItem) {
				now := time.Now().UTC().Truncate(time.Microsecond)
				inst := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
					StateKey: "sign", Status: engine.StatusWaitingExternal, System: engine.System{Provider: "DOCUSIGN"}, Revision: 1,
					StartedBy: f.userID, FormData: map[string]any{"name": "Ada"}, CreatedAt: now, UpdatedAt: now}
				wi := engine.WorkItem{ID: engine.NewIDAt(now), InstanceID: inst.ID, StateKey: "sign", EnteredRevision: 1,
					System: inst.System, Status: engine.WorkItemCreating, CreatedAt: now, UpdatedAt: now, Revision: 1}
				created, err := f.st.CreateInstance(ctx, inst, nil,
					engine.Effects{NewWorkItems: []engine.WorkItem{wi}, Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: wi.ID}}})
				require.NoError(t, err)
				return created, wi
			}
			retried := func(id string) engine.Job { return engine.CreateWorkItemJob{WorkItemID: id, Retried: true} }

			// Coupled, failed, closed: each clears its mark.
			_, a := marked()
			_, b := marked()
			_, c := marked()
			require.EqualValues(t, 3, due())
			_, err := f.st.CoupleWorkItem(ctx, a.ID, "env-a", coupleAct("env-a"))
			require.NoError(t, err)
			require.EqualValues(t, 2, due(), "the coupling clears the mark")
			require.NoError(t, f.st.FailWorkItem(ctx, b.ID, "refused", engine.Activity{Kind: engine.ActivityFailed, FromState: "sign",
				Message: "refused", CreatedAt: time.Now()}))
			require.EqualValues(t, 1, due(), "the failure clears the mark")
			require.NoError(t, f.st.CloseWorkItem(ctx, c.ID, engine.WorkItemCancelled, "the instance moved on", nil))
			require.Zero(t, due(), "the closing clears the mark")
			require.NoError(t, f.st.HandOverCreations(ctx, true, time.Time{}, a.ID, b.ID, c.ID))
			require.Empty(t, f.jobs.all(), "nothing due, nothing handed over")

			// A failed in-process creation: handed over at once, once.
			_, e := marked()
			require.NoError(t, f.st.HandOverCreations(ctx, true, time.Time{}, e.ID))
			require.Equal(t, []engine.Job{retried(e.ID)}, f.jobs.all(), "a River job that looks for the item first")
			require.Zero(t, due())
			require.NoError(t, f.st.HandOverCreations(ctx, true, time.Time{}, e.ID))
			require.NoError(t, f.st.HandOverCreations(ctx, false, time.Time{}, e.ID))
			require.Len(t, f.jobs.all(), 1, "handed over once")
			got, err := f.st.GetWorkItem(ctx, e.ID)
			require.NoError(t, err)
			require.Equal(t, engine.WorkItemCreating, got.Status, "the job creates it")
			require.ErrorIs(t, f.st.HandOverCreations(ctx, true, time.Time{}, "not-an-id"), engine.ErrNotFound)

			// Never started in-process (the queue was full): a job that creates at once.
			_, n1 := marked()
			_, n2 := marked()
			require.NoError(t, f.st.HandOverCreations(ctx, false, time.Time{}, n1.ID, n2.ID))
			require.ElementsMatch(t, []engine.Job{engine.CreateWorkItemJob{WorkItemID: n1.ID}, engine.CreateWorkItemJob{WorkItemID: n2.ID}},
				f.jobs.all()[1:])
			require.Zero(t, due())
			before := len(f.jobs.all())

			// Left due (the replica died): the sweep takes only the marks older than its
			// cutoff, batch after batch.
			n, err := f.st.HandOverDueCreations(ctx, time.Now().Add(-time.Minute), 10)
			require.NoError(t, err)
			require.Zero(t, n)
			_, g := marked()
			_, h := marked()
			_, i := marked()
			n, err = f.st.HandOverDueCreations(ctx, time.Now().Add(-time.Minute), 10)
			require.NoError(t, err)
			require.Zero(t, n, "a mark younger than the cutoff stays for the in-process creation")
			cutoff := time.Now().Add(time.Minute)
			n, err = f.st.HandOverDueCreations(ctx, cutoff, 2)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			n, err = f.st.HandOverDueCreations(ctx, cutoff, 2)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = f.st.HandOverDueCreations(ctx, cutoff, 2)
			require.NoError(t, err)
			require.Zero(t, n)
			require.ElementsMatch(t, []engine.Job{retried(g.ID), retried(h.ID), retried(i.ID)}, f.jobs.all()[before:],
				"the sweep's jobs look first: the replica that left the mark may have reached the provider")
			require.Zero(t, due())

			// The job's coupling finds no mark and couples.
			_, err = f.st.CoupleWorkItem(ctx, g.ID, "env-g", coupleAct("env-g"))
			require.NoError(t, err)

			// Every creation told to the queue came with its item; the hand-overs told nothing.
			var told []string
			for _, j := range f.jobs.told() {
				cj, ok := j.(engine.CreateWorkItemJob)
				require.True(t, ok, "%T", j)
				require.NotNil(t, cj.Item)
				require.Equal(t, cj.WorkItemID, cj.Item.ID)
				if d == store.Postgres {
					// The one statement returns the instance as written: the creation need
					// not read it.
					require.NotNil(t, cj.Instance, "%s told with its instance", cj.WorkItemID)
					require.Equal(t, cj.Item.InstanceID, cj.Instance.ID)
					require.Equal(t, engine.StatusWaitingExternal, cj.Instance.Status)
				}
				require.False(t, cj.Retried)
				told = append(told, cj.WorkItemID)
			}
			require.Equal(t, []string{a.ID, b.ID, c.ID, e.ID, n1.ID, n2.ID, g.ID, h.ID, i.ID}, told)
		})
	}
}

// TestCreationHandOverScheduled: on both databases, with River's inserter, an in-process
// hand-over of what an attempt may have reached the provider with is a job scheduled when the
// hand-over says (river_job.scheduled_at; the provider may still be making the item, which
// the job looks for), while one never started and the sweep's are available at once.
func TestCreationHandOverScheduled(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, d)
			q, err := worker.New(db, slog.New(slog.DiscardHandler), worker.Options{})
			require.NoError(t, err)
			f := newInstanceFixtureOn(t, store.New(db))
			f.st = f.st.WithJobs(q)
			ctx := context.Background()
			marked := func() string {
				now := time.Now().UTC().Truncate(time.Microsecond)
				inst := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
					StateKey: "sign", Status: engine.StatusWaitingExternal, System: engine.System{Provider: "DOCUSIGN"}, Revision: 1,
					StartedBy: f.userID, FormData: map[string]any{"name": "Ada"}, CreatedAt: now, UpdatedAt: now}
				wi := engine.WorkItem{ID: engine.NewIDAt(now), InstanceID: inst.ID, StateKey: "sign", EnteredRevision: 1,
					System: inst.System, Status: engine.WorkItemCreating, CreatedAt: now, UpdatedAt: now, Revision: 1}
				_, err := f.st.CreateInstance(ctx, inst, nil,
					engine.Effects{NewWorkItems: []engine.WorkItem{wi}, Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: wi.ID}}})
				require.NoError(t, err)
				return wi.ID
			}
			failed, neverStarted, swept := marked(), marked(), marked()

			before := time.Now()
			notBefore := before.Add(40 * time.Second)
			require.NoError(t, f.st.HandOverCreations(ctx, true, notBefore, failed))
			require.NoError(t, f.st.HandOverCreations(ctx, false, time.Time{}, neverStarted))
			n, err := f.st.HandOverDueCreations(ctx, time.Now().Add(time.Minute), 10)
			require.NoError(t, err)
			require.Equal(t, 1, n)
			after := time.Now()

			query := `SELECT args->>'work_item_id', state, CAST(ROUND(EXTRACT(EPOCH FROM scheduled_at) * 1000) AS BIGINT)
				FROM river_job WHERE kind = 'create_work_item'`
			if d == store.SQLite {
				query = `SELECT json_extract(args, '$.work_item_id'), state,
					CAST(ROUND((julianday(scheduled_at) - 2440587.5) * 86400000) AS INTEGER)
					FROM river_job WHERE kind = 'create_work_item'`
			}
			rows, err := db.SQL.QueryContext(ctx, query)
			require.NoError(t, err)
			defer rows.Close()
			type scheduled struct {
				state string
				at    time.Time
			}
			got := map[string]scheduled{}
			for rows.Next() {
				var id, state string
				var ms int64
				require.NoError(t, rows.Scan(&id, &state, &ms))
				got[id] = scheduled{state, time.UnixMilli(ms)}
			}
			require.NoError(t, rows.Err())
			require.Len(t, got, 3)

			require.Equal(t, "scheduled", got[failed].state, "a retried in-process hand-over waits")
			require.WithinDuration(t, notBefore, got[failed].at, 2*time.Millisecond, "scheduled when the hand-over said")
			for id, what := range map[string]string{neverStarted: "never started", swept: "the sweep's"} {
				require.Equal(t, "available", got[id].state, what)
				require.WithinRange(t, got[id].at, before.Add(-time.Second), after.Add(time.Second), "%s: at once", what)
			}
		})
	}
}
