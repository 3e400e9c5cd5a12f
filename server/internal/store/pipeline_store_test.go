package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// queueWhileHeld runs each write in its own goroutine while the pipeline is held, waits until
// all of them queue, releases the pipeline and waits for them: the writes go as one batch. It
// returns the batches and statements the pipeline sent meanwhile, the holding batch aside.
func queueWhileHeld(t *testing.T, st *store.Store, writes ...func()) (batches, statements int64) {
	t.Helper()
	b0, s0 := store.PipelineSent(st)
	queued, hold := store.HoldPipeline(st)
	release := sync.OnceFunc(hold)
	defer release() // a failed wait must not leave the writes held
	var wg sync.WaitGroup
	for _, w := range writes {
		wg.Go(w)
	}
	require.Eventually(t, func() bool { return queued() == len(writes) }, 10*time.Second, time.Millisecond,
		"every write waits for the batch being sent")
	release()
	wg.Wait()
	b1, s1 := store.PipelineSent(st)
	return b1 - b0 - 1, s1 - s0 - 1 // the holding batch, of one
}

// TestPipelineBatch: one-statement writes that queue while a batch is being sent are sent
// together, as one batch (one round trip, one commit), and each gets what it gets alone: of
// two completions decided on one reading of an instance, one moves it and the other answers
// ErrConflict; a redelivery writes nothing; an event stored PENDING is finished; a start, a
// cancellation (whose caller has hung up) and a coupling are written beside them; and the
// queue is told of the start's creation, with the instance as written, once the batch has
// committed.
func TestPipelineBatch(t *testing.T) {
	t.Parallel()
	f := newInstanceFixture(t, store.Postgres)
	ctx := context.Background()
	inst1, wi1 := f.coupled(t, "env-p1")
	inst2, wi2 := f.coupled(t, "env-p2")
	inst3, wi3 := f.coupled(t, "env-p3")
	toCancel, _ := f.coupled(t, "env-p4")
	_, creating := f.waiting(t, "", "")

	a, ra := completion(inst1, wi1, "k-a")
	b, rb := completion(inst1, wi1, "k-b") // the same reading as a
	redelivered, r2 := completion(inst2, wi2, "k-p2")
	created, err := store.WriteTransition(f.st, redelivered, r2)
	require.NoError(t, err)
	require.True(t, created)
	pending := coupleEvent(t, f.st, coupleDocuSign, wi3.ExternalID, "envelope-completed")
	_, r3 := completion(inst3, wi3, "unused")
	r3.EventID = pending.ID
	now := time.Now()
	start := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
		StateKey: "sign", Status: engine.StatusWaitingExternal, System: engine.System{Provider: "DOCUSIGN"}, Revision: 1,
		StartedBy: f.userID, FormData: map[string]any{"name": "Ada"}, CreatedAt: now, UpdatedAt: now}
	startItem := engine.WorkItem{ID: engine.NewIDAt(now), InstanceID: start.ID, StateKey: "sign", EnteredRevision: 1,
		System: engine.System{Provider: "DOCUSIGN"}, Status: engine.WorkItemCreating, CreatedAt: now, UpdatedAt: now, Revision: 1}
	cancelled := toCancel
	cancelled.Status, cancelled.Reason, cancelled.EndedAt, cancelled.UpdatedAt = engine.StatusCancelled, "no longer needed", &now, now
	toldBefore := len(f.jobs.told())
	// The cancellation's caller has hung up by the time its batch goes: a batch runs under
	// none of its callers' contexts, so it is written all the same, as in the group commit.
	gone, hangUp := context.WithCancel(ctx)
	hangUp()

	var (
		createdA, createdB, createdAgain bool
		errA, errB, errAgain, errFinish  error
		errStart, errCancel, errCouple   error
		coupled                          engine.Coupled
	)
	batches, statements := queueWhileHeld(t, f.st,
		func() { createdA, errA = store.WriteTransition(f.st, a, ra) },
		func() { createdB, errB = store.WriteTransition(f.st, b, rb) },
		func() { createdAgain, errAgain = store.WriteTransition(f.st, redelivered, r2) },
		func() { errFinish = store.FinishTransition(f.st, r3) },
		func() {
			_, errStart = f.st.CreateInstance(ctx, start, nil, engine.Effects{NewWorkItems: []engine.WorkItem{startItem},
				Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: startItem.ID}}})
		},
		func() {
			_, errCancel = f.st.UpdateInstance(gone, cancelled, toCancel.Revision,
				[]engine.Activity{{Kind: engine.ActivityCancelled, Message: "no longer needed", CreatedAt: now}}, engine.Effects{})
		},
		func() { coupled, errCouple = f.st.CoupleWorkItem(ctx, creating.ID, "env-p5", coupleAct("env-p5")) },
	)
	require.EqualValues(t, 1, batches, "the seven writes went as one batch")
	require.EqualValues(t, 7, statements)

	// Of the two completions on one reading, the first in the batch moved the instance.
	require.True(t, createdA != createdB, "one of the two completions is written")
	for _, c := range []struct {
		created bool
		err     error
	}{{createdA, errA}, {createdB, errB}} {
		if c.created {
			require.NoError(t, c.err)
		} else {
			require.ErrorIs(t, c.err, engine.ErrConflict)
		}
	}
	got, err := f.st.GetInstance(ctx, inst1.ID)
	require.NoError(t, err)
	require.Equal(t, inst1.Revision+1, got.Revision)
	require.Equal(t, engine.StatusCompleted, got.Status)
	acts, _, err := f.st.ListActivity(ctx, inst1.ID, engine.Page{Size: 10})
	require.NoError(t, err)
	require.Len(t, acts, 3, "the coupling's, then one completion's two")

	require.NoError(t, errAgain)
	require.False(t, createdAgain, "a redelivery writes nothing")
	got, err = f.st.GetInstance(ctx, inst2.ID)
	require.NoError(t, err)
	require.Equal(t, inst2.Revision+1, got.Revision)

	require.NoError(t, errFinish)
	finished, err := f.st.GetEvent(ctx, pending.ID)
	require.NoError(t, err)
	require.Equal(t, engine.VerdictApplied, finished.Verdict)
	got, err = f.st.GetInstance(ctx, inst3.ID)
	require.NoError(t, err)
	require.Equal(t, engine.StatusCompleted, got.Status)

	require.NoError(t, errStart)
	started, err := f.st.GetInstance(ctx, start.ID)
	require.NoError(t, err)
	require.Equal(t, "sign", started.StateKey)
	item, err := f.st.GetWorkItem(ctx, startItem.ID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemCreating, item.Status)
	var told []engine.CreateWorkItemJob
	for _, j := range f.jobs.told()[toldBefore:] {
		if c, ok := j.(engine.CreateWorkItemJob); ok {
			told = append(told, c)
		}
	}
	require.Len(t, told, 1, "the start's creation is told once the batch commits")
	require.Equal(t, startItem.ID, told[0].WorkItemID)
	require.NotNil(t, told[0].Instance)
	require.Equal(t, start.ID, told[0].Instance.ID)

	require.NoError(t, errCancel)
	got, err = f.st.GetInstance(ctx, toCancel.ID)
	require.NoError(t, err)
	require.Equal(t, engine.StatusCancelled, got.Status)

	require.NoError(t, errCouple)
	require.Equal(t, "env-p5", coupled.WorkItem.ExternalID)
	require.Equal(t, engine.WorkItemWaiting, coupled.WorkItem.Status)
}

// TestPipelineFallsBack: a statement that fails aborts its batch's transaction, and so every
// statement in it; each is then sent again on its own, so that only the failing one fails and
// the others are written, once.
func TestPipelineFallsBack(t *testing.T) {
	t.Parallel()
	f := newInstanceFixture(t, store.Postgres)
	ctx := context.Background()
	inst, wi := f.coupled(t, "env-fb")
	ev, r := completion(inst, wi, "k-fb")
	var (
		created       bool
		errT, errFail error
	)
	batches, statements := queueWhileHeld(t, f.st,
		func() { created, errT = store.WriteTransition(f.st, ev, r) },
		func() { errFail = store.WriteStatement(f.st, ctx, "SELECT 1/0") },
	)
	require.EqualValues(t, 1, batches)
	require.EqualValues(t, 2, statements)
	require.NoError(t, errT)
	require.True(t, created, "written again on its own")
	require.Error(t, errFail)
	require.Contains(t, errFail.Error(), "division by zero")
	assert.False(t, errors.Is(errFail, engine.ErrConflict))

	got, err := f.st.GetInstance(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, inst.Revision+1, got.Revision, "moved once")
	acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
	require.NoError(t, err)
	require.Len(t, acts, 3, "the coupling's, then the completion's two, once")
}
