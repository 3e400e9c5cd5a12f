package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/eventlog"
	"github.com/flowhook/flowhook/server/internal/store"
)

var (
	coupleDocuSign = engine.System{Provider: "DOCUSIGN"}
	coupleOneSpan  = engine.System{Provider: "ONESPAN"}
)

// coupleEvent stores a PENDING event of a system for an external id, with its job.
func coupleEvent(t *testing.T, st *store.Store, sys engine.System, externalID, typ string) engine.StoredEvent {
	t.Helper()
	ev, created, err := st.InsertEvent(context.Background(), engine.StoredEvent{
		Event: engine.InboundEvent{System: sys, Type: typ, ExternalID: externalID, DedupeKey: uuid.NewString()},
		Body:  []byte(`{}`), Headers: map[string]string{"Content-Type": "application/json"},
		ReceivedAt: time.Now(), Verdict: engine.VerdictPending})
	require.NoError(t, err)
	require.True(t, created)
	return ev
}

// coupleOrphan stores an event and marks it ORPHANED, as its job does once the early-event
// window has passed without a work item for its id.
func coupleOrphan(t *testing.T, st *store.Store, sys engine.System, externalID, typ string) engine.StoredEvent {
	t.Helper()
	ev := coupleEvent(t, st, sys, externalID, typ)
	require.NoError(t, st.FinishEvent(context.Background(), engine.EventResult{EventID: ev.ID, Verdict: engine.VerdictOrphaned,
		Reason: fmt.Sprintf("no work item has the %s id %s after 15m0s", sys, externalID)}))
	return coupleGet(t, st, ev.ID)
}

func coupleGet(t *testing.T, st *store.Store, id string) engine.StoredEvent {
	t.Helper()
	ev, err := st.GetEvent(context.Background(), id)
	require.NoError(t, err)
	return ev
}

func coupleAct(externalID string) engine.Activity {
	return engine.Activity{Kind: engine.ActivityExternalProgress, ToState: "sign", CreatedAt: time.Now(),
		Message: "DOCUSIGN " + externalID + " sent to ada@example.com"}
}

// processJobs returns the event ids of the process jobs among jobs.
func processJobs(jobs []engine.Job) []string {
	var out []string
	for _, j := range jobs {
		if p, ok := j.(engine.ProcessEventJob); ok {
			out = append(out, p.EventID)
		}
	}
	return out
}

// TestCoupleWorkItemPicksUpEarlyEvents: coupling an id has every event of that system and id
// still PENDING or ORPHANED processed: marked due in its transaction, and told to the queue
// once it commits; the ORPHANED ones are PENDING again, with a step in their Event Log saying
// why. Other events are left alone.
func TestCoupleWorkItemPicksUpEarlyEvents(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			const envID = "env-1"

			pending := coupleEvent(t, f.st, coupleDocuSign, envID, "envelope-sent")
			orphanA := coupleOrphan(t, f.st, coupleDocuSign, envID, "envelope-delivered")
			orphanB := coupleOrphan(t, f.st, coupleDocuSign, envID, "envelope-completed")
			require.Equal(t, engine.VerdictOrphaned, orphanA.Verdict)
			require.EqualValues(t, 1, orphanA.Attempts)
			require.NotNil(t, orphanA.ProcessedAt)
			// Not theirs: another id, another system with the same id, a verdict that is final.
			otherID := coupleOrphan(t, f.st, coupleDocuSign, "env-2", "envelope-completed")
			otherSystem := coupleOrphan(t, f.st, coupleOneSpan, envID, "PACKAGE_COMPLETE")
			ignored := coupleEvent(t, f.st, coupleDocuSign, envID, "envelope-corrected")
			require.NoError(t, f.st.FinishEvent(ctx, engine.EventResult{EventID: ignored.ID, Verdict: engine.VerdictIgnored, Reason: "not in the table"}))
			before := len(f.jobs.told())
			due, err := f.st.EventsDue(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 1, due, "the PENDING event, due since it was stored")

			coupled, err := f.st.CoupleWorkItem(ctx, wi.ID, envID, coupleAct(envID))
			require.NoError(t, err)
			require.Equal(t, engine.WorkItemWaiting, coupled.Status)
			require.Equal(t, envID, coupled.ExternalID)

			// As a set: ids made in the same millisecond do not sort in arrival order.
			require.ElementsMatch(t, []string{pending.ID, orphanA.ID, orphanB.ID}, processJobs(f.jobs.told()[before:]),
				"each event picked up is processed once the coupling commits")
			require.Empty(t, processJobs(f.jobs.all()), "no River job: their marks are the guarantee")
			due, err = f.st.EventsDue(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 3, due, "the PENDING event and the two ORPHANED ones picked up")
			for _, o := range []engine.StoredEvent{orphanA, orphanB} {
				got := coupleGet(t, f.st, o.ID)
				require.Equal(t, engine.VerdictPending, got.Verdict)
				require.Equal(t, "picked up again when work item "+wi.ID+" was coupled", got.Reason)
				require.Nil(t, got.ProcessedAt, "not processed since it is PENDING again")
				require.EqualValues(t, 1, got.Attempts, "the attempt that orphaned it stays counted")
				steps, err := f.st.EventLog(ctx, o.ID)
				require.NoError(t, err)
				require.Len(t, steps, 1)
				require.Equal(t, eventlog.StepReplayed, steps[0].Step)
				require.Equal(t, fmt.Sprintf("picked up again when work item %s was coupled to DOCUSIGN %s; it was ORPHANED (%s)",
					wi.ID, envID, o.Reason), steps[0].Message)
				require.WithinDuration(t, time.Now(), steps[0].At, time.Minute)
			}
			got := coupleGet(t, f.st, pending.ID)
			require.Equal(t, engine.VerdictPending, got.Verdict)
			require.Empty(t, got.Reason)
			steps, err := f.st.EventLog(ctx, pending.ID)
			require.NoError(t, err)
			require.Empty(t, steps, "a PENDING event is only processed sooner; its own story says the rest")

			for _, o := range []engine.StoredEvent{otherID, otherSystem} {
				got := coupleGet(t, f.st, o.ID)
				require.Equal(t, engine.VerdictOrphaned, got.Verdict)
				require.Equal(t, o.Reason, got.Reason)
				steps, err := f.st.EventLog(ctx, o.ID)
				require.NoError(t, err)
				require.Empty(t, steps)
			}
			require.Equal(t, engine.VerdictIgnored, coupleGet(t, f.st, ignored.ID).Verdict)

			// Picked up, an event is processed as any: its verdict is set once, from PENDING.
			res := engine.EventResult{EventID: orphanB.ID, Verdict: engine.VerdictStale, Reason: "decided again",
				InstanceID: inst.ID, WorkItemID: wi.ID}
			require.NoError(t, f.st.FinishEvent(ctx, res))
			require.ErrorIs(t, f.st.FinishEvent(ctx, res), engine.ErrConflict)
			got = coupleGet(t, f.st, orphanB.ID)
			require.Equal(t, engine.VerdictStale, got.Verdict)
			require.EqualValues(t, 2, got.Attempts)
			require.NotNil(t, got.ProcessedAt)
			require.Equal(t, wi.ID, got.WorkItemID)
		})
	}
}

// TestOrphanAfterCouplingIsRefused: a job that looked for the work item before the coupling
// committed cannot mark the event ORPHANED after it: FinishEvent answers ErrConflict (the job
// reads again and finds the work item), and the event stays PENDING, processed again after the
// coupling.
func TestOrphanAfterCouplingIsRefused(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			_, wi := f.waiting(t, "", "")
			ev := coupleEvent(t, f.st, coupleDocuSign, "env-1", "envelope-completed")
			before := len(f.jobs.told())
			_, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-1", coupleAct("env-1"))
			require.NoError(t, err)
			require.Equal(t, []string{ev.ID}, processJobs(f.jobs.told()[before:]))

			err = f.st.FinishEvent(ctx, engine.EventResult{EventID: ev.ID, Verdict: engine.VerdictOrphaned, Reason: "too late"})
			require.ErrorIs(t, err, engine.ErrConflict)
			got := coupleGet(t, f.st, ev.ID)
			require.Equal(t, engine.VerdictPending, got.Verdict)
			require.Zero(t, got.Attempts)

			// An event whose id nobody coupled is still orphaned.
			lone := coupleEvent(t, f.st, coupleDocuSign, "env-nobody", "envelope-completed")
			require.NoError(t, f.st.FinishEvent(ctx, engine.EventResult{EventID: lone.ID, Verdict: engine.VerdictOrphaned, Reason: "alone"}))
			require.Equal(t, engine.VerdictOrphaned, coupleGet(t, f.st, lone.ID).Verdict)
		})
	}
}

// TestReplayAfterPickUpIsRefused: a replay that read an event ORPHANED (and found no work
// item) before a coupling picked it up cannot save ORPHANED over the coupling's PENDING: it
// answers ErrConflict (the replay reads again), and the event stays PENDING with its job. A
// PENDING event replayed PENDING is not counted as an attempt: it has not been decided.
func TestReplayAfterPickUpIsRefused(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			_, wi := f.waiting(t, "", "")
			orphan := coupleOrphan(t, f.st, coupleDocuSign, "env-1", "envelope-completed")
			require.Equal(t, engine.VerdictOrphaned, orphan.Verdict)
			_, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-1", coupleAct("env-1"))
			require.NoError(t, err)

			err = f.st.ReplayEvent(ctx, orphan, orphan.Attempts, engine.EventResult{EventID: orphan.ID, Verdict: engine.VerdictOrphaned, Reason: "no work item"})
			require.ErrorIs(t, err, engine.ErrConflict)
			got := coupleGet(t, f.st, orphan.ID)
			require.Equal(t, engine.VerdictPending, got.Verdict, "the coupling's pick-up stands")
			due, err := f.st.EventsDue(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(1), due, "still due for processing")

			require.NoError(t, f.st.ReplayEvent(ctx, got, got.Attempts, engine.EventResult{EventID: got.ID, Verdict: engine.VerdictPending, Reason: "waiting"}))
			again := coupleGet(t, f.st, got.ID)
			require.Equal(t, engine.VerdictPending, again.Verdict)
			require.Equal(t, got.Attempts, again.Attempts, "left PENDING, not counted as an attempt")
		})
	}
}

// TestCoupleRacesOrphaning: a job orphaning an event and the coupling of its id, at the same
// time: whichever commits first, the event ends PENDING and processed again after the
// coupling — never ORPHANED with its work item coupled.
func TestCoupleRacesOrphaning(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			for i := range 15 {
				_, wi := f.waiting(t, "", "")
				envID := fmt.Sprintf("env-race-%d", i)
				ev := coupleEvent(t, f.st, coupleDocuSign, envID, "envelope-completed")
				var coupleErr, orphanErr error
				var wg sync.WaitGroup
				start := make(chan struct{})
				wg.Go(func() {
					<-start
					_, coupleErr = f.st.CoupleWorkItem(ctx, wi.ID, envID, coupleAct(envID))
				})
				wg.Go(func() {
					<-start
					orphanErr = f.st.FinishEvent(ctx, engine.EventResult{EventID: ev.ID, Verdict: engine.VerdictOrphaned, Reason: "window passed"})
				})
				close(start)
				wg.Wait()
				require.NoError(t, coupleErr)
				if orphanErr != nil {
					require.ErrorIs(t, orphanErr, engine.ErrConflict)
				}
				got := coupleGet(t, f.st, ev.ID)
				require.Equal(t, engine.VerdictPending, got.Verdict, "round %d (orphaning: %v)", i, orphanErr)
				n := 0
				for _, id := range processJobs(f.jobs.told()) {
					if id == ev.ID {
						n++
					}
				}
				require.Equal(t, 2, n, "processed when it was stored, and after the coupling")
			}
		})
	}
}

// TestWorkItemWithInstance: the joined read gives what the two reads give, every column scanned
// (a column added to either table must be added to the join's scan), and ErrNotFound for an id
// nobody coupled.
func TestWorkItemWithInstance(t *testing.T) {
	t.Parallel()
	require.Empty(t, store.JoinedColumnsMissing(), "columns the joined read does not scan")
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			_, wi := f.waiting(t, "", "")
			_, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-joined", coupleAct("env-joined"))
			require.NoError(t, err)

			gotWI, gotInst, err := f.st.WorkItemWithInstance(ctx, coupleDocuSign, "env-joined")
			require.NoError(t, err)
			wantWI, err := f.st.WorkItemByExternal(ctx, coupleDocuSign, "env-joined")
			require.NoError(t, err)
			wantInst, err := f.st.GetInstance(ctx, wi.InstanceID)
			require.NoError(t, err)
			require.Equal(t, wantWI, gotWI)
			require.Equal(t, wantInst, gotInst)
			require.NotEmpty(t, gotInst.FormData, "the form is read")

			_, _, err = f.st.WorkItemWithInstance(ctx, coupleDocuSign, "env-nobody")
			require.ErrorIs(t, err, engine.ErrNotFound)
			_, _, err = f.st.WorkItemWithInstance(ctx, coupleOneSpan, "env-joined")
			require.ErrorIs(t, err, engine.ErrNotFound, "the id is another system's")
		})
	}
}

// TestCoupleInOneStatement: on PostgreSQL a coupling whose early events are all PENDING is one
// statement (coupleSQL), which writes what the transaction writes — the work item WAITING on
// the id, the instance's external id and the activity numbered after the last, the PENDING
// events marked due and told to the queue once it commits — and returns the work item as a
// read gives it. It writes nothing, for the transaction to say why or to pick them up, when
// the work item is no longer CREATING or an ORPHANED event waits for the id.
func TestCoupleInOneStatement(t *testing.T) {
	t.Parallel()
	f := newInstanceFixture(t, store.Postgres)
	ctx := context.Background()
	now := time.Now()
	inst := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
		StateKey: "sign", Status: engine.StatusWaitingExternal, System: coupleDocuSign, Revision: 1, StartedBy: f.userID,
		FormData: map[string]any{}, CreatedAt: now, UpdatedAt: now}
	wi := engine.WorkItem{ID: engine.NewIDAt(now), InstanceID: inst.ID, StateKey: "sign", EnteredRevision: 1,
		System: coupleDocuSign, Status: engine.WorkItemCreating, CreatedAt: now, UpdatedAt: now, Revision: 1}
	inst, err := f.st.CreateInstance(ctx, inst, []engine.Activity{{Kind: engine.ActivityStarted, ToState: "sign", Message: "before",
		CreatedAt: now}}, engine.Effects{NewWorkItems: []engine.WorkItem{wi}})
	require.NoError(t, err)
	early := coupleEvent(t, f.st, coupleDocuSign, "env-alone", "envelope-sent")
	// One handed to its job already (its mark cleared): the coupling marks it due again.
	handed := coupleEvent(t, f.st, coupleDocuSign, "env-alone", "envelope-delivered")
	require.NoError(t, f.st.HandOverEvent(ctx, handed.ID))
	otherID := coupleEvent(t, f.st, coupleDocuSign, "env-another", "envelope-sent")
	before := len(f.jobs.told())

	coupled, written, err := store.CoupleAlone(f.st, ctx, wi.ID, "env-alone", coupleAct("env-alone"))
	require.NoError(t, err)
	require.True(t, written)
	read, err := f.st.GetWorkItem(ctx, wi.ID)
	require.NoError(t, err)
	require.Equal(t, read, coupled.WorkItem, "the work item as a read gives it")
	require.Equal(t, engine.WorkItemWaiting, read.Status)
	require.Equal(t, "env-alone", read.ExternalID)
	require.Equal(t, wi.Revision+1, read.Revision)
	require.Equal(t, engine.StatusWaitingExternal, coupled.InstanceStatus)
	require.Equal(t, inst.Revision, coupled.InstanceRevision)
	got, err := f.st.GetInstance(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, "env-alone", got.ExternalID)
	require.Equal(t, inst.Revision, got.Revision, "not a change of the instance's own")
	acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
	require.NoError(t, err)
	require.Len(t, acts, 2)
	require.Equal(t, "before", acts[0].Message)
	require.Equal(t, "DOCUSIGN env-alone sent to ada@example.com", acts[1].Message)
	require.Equal(t, acts[0].Seq+1, acts[1].Seq, "numbered after the last")
	told := f.jobs.told()[before:]
	require.ElementsMatch(t, []string{early.ID, handed.ID}, processJobs(told), "the early events, once the statement committed")
	for _, j := range told {
		// Each as the coupling locked and left it, so that processing does not read it again.
		job := j.(engine.ProcessEventJob)
		require.NotNil(t, job.Event, "event %s told with its content", job.EventID)
		read := coupleGet(t, f.st, job.EventID)
		require.Equal(t, read.ID, job.Event.ID)
		require.Equal(t, read.Event, job.Event.Event)
		require.Equal(t, read.Body, job.Event.Body)
		require.Equal(t, read.Headers, job.Event.Headers)
		require.Equal(t, engine.VerdictPending, job.Event.Verdict)
		require.Equal(t, read.Attempts, job.Event.Attempts)
		require.True(t, read.ReceivedAt.Equal(job.Event.ReceivedAt), "received at %s, told %s", read.ReceivedAt, job.Event.ReceivedAt)
	}
	require.Equal(t, []string{handed.ID}, processJobs(f.jobs.all()), "no River job but the hand-over's")
	due, err := f.st.EventsDue(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, due, "the early events due (the one handed over marked again), and the other id's, untouched")
	require.Equal(t, engine.VerdictPending, coupleGet(t, f.st, otherID.ID).Verdict)

	// No longer CREATING: nothing written, and the transaction says why.
	before = len(f.jobs.told())
	_, written, err = store.CoupleAlone(f.st, ctx, wi.ID, "env-again", coupleAct("env-again"))
	require.NoError(t, err)
	require.False(t, written)
	_, err = f.st.CoupleWorkItem(ctx, wi.ID, "env-again", coupleAct("env-again"))
	require.ErrorIs(t, err, engine.ErrConflict)
	acts, _, err = f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
	require.NoError(t, err)
	require.Len(t, acts, 2, "no activity of a coupling refused")
	require.Empty(t, f.jobs.told()[before:])

	// An ORPHANED event for the id: nothing written by the statement; the transaction couples
	// and picks it up with its Event Log.
	inst2, wi2 := f.waiting(t, "", "")
	orphan := coupleOrphan(t, f.st, coupleDocuSign, "env-orphan", "envelope-completed")
	_, written, err = store.CoupleAlone(f.st, ctx, wi2.ID, "env-orphan", coupleAct("env-orphan"))
	require.NoError(t, err)
	require.False(t, written)
	still, err := f.st.GetWorkItem(ctx, wi2.ID)
	require.NoError(t, err)
	require.Equal(t, engine.WorkItemCreating, still.Status, "nothing of the statement stays")
	require.Equal(t, engine.VerdictOrphaned, coupleGet(t, f.st, orphan.ID).Verdict)
	coupled, err = f.st.CoupleWorkItem(ctx, wi2.ID, "env-orphan", coupleAct("env-orphan"))
	require.NoError(t, err)
	require.Equal(t, "env-orphan", coupled.ExternalID)
	require.Equal(t, engine.StatusWaitingExternal, coupled.InstanceStatus)
	require.Equal(t, inst2.Revision, coupled.InstanceRevision)
	require.Equal(t, engine.VerdictPending, coupleGet(t, f.st, orphan.ID).Verdict)
	steps, err := f.st.EventLog(ctx, orphan.ID)
	require.NoError(t, err)
	require.Len(t, steps, 1)
	require.Equal(t, eventlog.StepReplayed, steps[0].Step)
}

// TestCouplingFindsTheInstance: a coupling returns the instance as it found it, so that a
// creation learns without a second read that the instance was cancelled while the provider
// created the item (and voids it); an instance still waiting shows as such.
func TestCouplingFindsTheInstance(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			moved := f.cancel(t, inst, "cancelled by an admin")

			coupled, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-late", coupleAct("env-late"))
			require.NoError(t, err)
			require.Equal(t, engine.WorkItemWaiting, coupled.Status)
			require.Equal(t, engine.StatusCancelled, coupled.InstanceStatus)
			require.Equal(t, moved.Revision, coupled.InstanceRevision)
			require.Equal(t, "cancelled by an admin", coupled.InstanceReason)

			inst2, wi2 := f.waiting(t, "", "")
			coupled, err = f.st.CoupleWorkItem(ctx, wi2.ID, "env-on-time", coupleAct("env-on-time"))
			require.NoError(t, err)
			require.Equal(t, engine.StatusWaitingExternal, coupled.InstanceStatus)
			require.Equal(t, inst2.Revision, coupled.InstanceRevision)
			require.Empty(t, coupled.InstanceReason)
		})
	}
}

// TestInstanceExternalIDIsTheCouplings: the instance's external_id (Workflow Manage filters on
// it) is what the coupling of its current step wrote. A write that read the instance before the
// coupling committed (a cancel, a timer's move) leaves it, where it wrote it back empty until
// session 44; and the late coupling of an earlier step's work item, after the instance moved
// on to another step, does not take the current step's id.
func TestInstanceExternalIDIsTheCouplings(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()

			inst, wi := f.waiting(t, "", "") // read before its coupling
			_, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-a", coupleAct("env-a"))
			require.NoError(t, err)
			f.cancel(t, inst, "cancelled as read before the coupling")
			got, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, engine.StatusCancelled, got.Status)
			require.Equal(t, "env-a", got.ExternalID, "the cancel kept the coupled id")

			inst2, first := f.waiting(t, "", "")
			now := time.Now()
			second := engine.WorkItem{ID: engine.NewIDAt(now.Add(time.Millisecond)), InstanceID: inst2.ID, StateKey: "sign",
				EnteredRevision: inst2.Revision + 1, System: engine.System{Provider: "DOCUSIGN"}, Status: engine.WorkItemCreating,
				CreatedAt: now, UpdatedAt: now, Revision: 1}
			moved := inst2
			moved.UpdatedAt, moved.ResetExternalID = now, true
			_, err = f.st.UpdateInstance(ctx, moved, inst2.Revision, nil, engine.Effects{NewWorkItems: []engine.WorkItem{second}})
			require.NoError(t, err)
			_, err = f.st.CoupleWorkItem(ctx, second.ID, "env-two", coupleAct("env-two"))
			require.NoError(t, err)
			_, err = f.st.CoupleWorkItem(ctx, first.ID, "env-one", coupleAct("env-one")) // the first step's, late
			require.NoError(t, err)
			got, err = f.st.GetInstance(ctx, inst2.ID)
			require.NoError(t, err)
			require.Equal(t, "env-two", got.ExternalID, "the current step's id stays")

			// A move that starts a step clears it, for that step's coupling to fill.
			again := got
			again.UpdatedAt, again.ResetExternalID = time.Now(), true
			_, err = f.st.UpdateInstance(ctx, again, got.Revision, nil, engine.Effects{})
			require.NoError(t, err)
			got, err = f.st.GetInstance(ctx, inst2.ID)
			require.NoError(t, err)
			require.Empty(t, got.ExternalID)
		})
	}
}
