package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// requireVerdict checks a processed event's row: its verdict and reason, the ids processing
// found, one attempt counted, and when it was processed.
func requireVerdict(t *testing.T, st *store.Store, eventID string, v engine.Verdict, reason, instanceID, workItemID string) {
	t.Helper()
	stored, err := st.GetEvent(context.Background(), eventID)
	require.NoError(t, err)
	require.Equal(t, v, stored.Verdict)
	require.Equal(t, reason, stored.Reason)
	require.Equal(t, instanceID, stored.InstanceID)
	require.Equal(t, workItemID, stored.WorkItemID)
	require.EqualValues(t, 1, stored.Attempts)
	require.NotNil(t, stored.ProcessedAt)
}

// requireUntouched checks that an instance and its work item are still at the revisions given.
func requireUntouched(t *testing.T, st *store.Store, inst engine.Instance, wi engine.WorkItem) {
	t.Helper()
	ctx := context.Background()
	got, err := st.GetInstance(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, inst.Revision, got.Revision)
	gotWI, err := st.GetWorkItem(ctx, wi.ID)
	require.NoError(t, err)
	require.Equal(t, wi.Revision, gotWI.Revision)
}

// racingSaves runs save from n goroutines at once and returns how many succeeded; an error
// other than ErrConflict fails the test.
func racingSaves(t *testing.T, n int, save func() error) int32 {
	t.Helper()
	var wg sync.WaitGroup
	var saved atomic.Int32
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			err := save()
			if err != nil && !errors.Is(err, engine.ErrConflict) {
				assert.NoError(t, err)
			}
			if err == nil {
				saved.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return saved.Load()
}

// finisher saves a stored event's result: on PostgreSQL with finishTransition's one statement
// alone (no fallback: a failing statement fails the test), on SQLite with FinishEvent.
func finisher(st *store.Store, d store.Dialect) func(engine.EventResult) error {
	return func(r engine.EventResult) error {
		if d == store.Postgres {
			return store.FinishTransition(st, r)
		}
		return st.FinishEvent(context.Background(), r)
	}
}

// TestFinishTransition: the result of an event stored PENDING that moves its instance (a
// OneSpan completion read back; on PostgreSQL one statement, finishTransition; on SQLite a
// transaction) moves the work item and the instance together, saves the event's verdict,
// counts its attempt, clears its mark and enqueues the result's jobs; saved again, or decided
// on an instance or a work item that has moved on, it writes nothing and answers ErrConflict;
// racing runs save it once.
func TestFinishTransition(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			finish := finisher(f.st, d)
			// completed is an event stored PENDING for inst's envelope, and its result as decided.
			completed := func(inst engine.Instance, wi engine.WorkItem, jobs ...engine.Job) (engine.StoredEvent, engine.EventResult) {
				ev := coupleEvent(t, f.st, coupleDocuSign, wi.ExternalID, "envelope-completed")
				_, r := completion(inst, wi, ev.Event.DedupeKey, jobs...)
				r.EventID = ev.ID
				return ev, r
			}
			unchanged := func(inst engine.Instance, wi engine.WorkItem, ev engine.StoredEvent) {
				t.Helper()
				requireUntouched(t, f.st, inst, wi)
				stored, err := f.st.GetEvent(ctx, ev.ID)
				require.NoError(t, err)
				require.Equal(t, engine.VerdictPending, stored.Verdict)
				require.Zero(t, stored.Attempts)
				acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Len(t, acts, 1, "the coupling's alone")
			}

			for _, kind := range []string{"", "river", "document"} {
				inst, wi := f.coupled(t, "env-"+engine.NewIDAt(time.Now()))
				var jobs, river []engine.Job
				switch kind {
				case "river":
					jobs = []engine.Job{engine.CancelWorkItemJob{WorkItemID: wi.ID, Reason: "test"}}
					river = jobs
				case "document":
					jobs = []engine.Job{engine.FetchDocumentJob{WorkItemID: wi.ID}}
				}
				ev, r := completed(inst, wi, jobs...)
				jobsBefore := len(f.jobs.all())
				docsBefore, err := f.st.DocumentsDue(ctx)
				require.NoError(t, err)
				require.NoError(t, finish(r), kind)

				got, err := f.st.GetInstance(ctx, inst.ID)
				require.NoError(t, err)
				require.Equal(t, inst.Revision+1, got.Revision)
				require.Equal(t, engine.StatusCompleted, got.Status)
				require.Equal(t, "done", got.StateKey)
				gotWI, err := f.st.GetWorkItem(ctx, wi.ID)
				require.NoError(t, err)
				require.Equal(t, wi.Revision+1, gotWI.Revision)
				require.Equal(t, engine.OutcomeFinished, gotWI.Outcome)
				requireVerdict(t, f.st, ev.ID, engine.VerdictApplied, "finished", inst.ID, wi.ID)
				acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Len(t, acts, 3, "the coupling's, then the result's two")
				for i, a := range acts {
					require.EqualValues(t, i+1, a.Seq)
				}
				sameJobs(t, river, f.jobs.all()[jobsBefore:], "the result's River jobs, enqueued with it")
				docs, err := f.st.DocumentsDue(ctx)
				require.NoError(t, err)
				if kind == "document" {
					require.Equal(t, docsBefore+1, docs, "the document is marked due with the result")
				} else {
					require.Equal(t, docsBefore, docs)
				}
				eventsDue, err := f.st.EventsDue(ctx)
				require.NoError(t, err)
				require.Zero(t, eventsDue, "the event's mark is cleared")

				// Saved again (a second run): nothing more.
				require.ErrorIs(t, finish(r), engine.ErrConflict)
				again, err := f.st.GetInstance(ctx, inst.ID)
				require.NoError(t, err)
				require.Equal(t, got.Revision, again.Revision)
				sameJobs(t, river, f.jobs.all()[jobsBefore:], "nothing more enqueued")
			}

			// Decided on a reading that is no longer current: nothing is written.
			inst, wi := f.coupled(t, "env-stale")
			ev, r := completed(inst, wi)
			r.InstanceRevision = inst.Revision - 1
			require.ErrorIs(t, finish(r), engine.ErrConflict)
			unchanged(inst, wi, ev)
			ev, r = completed(inst, wi)
			stale := *r.WorkItem
			stale.Revision = wi.Revision - 1
			r.WorkItem = &stale
			require.ErrorIs(t, finish(r), engine.ErrConflict)
			unchanged(inst, wi, ev)

			// Racing runs of one event's processing: saved once, the others conflict.
			inst, wi = f.coupled(t, "env-racing")
			_, r = completed(inst, wi)
			require.EqualValues(t, 1, racingSaves(t, 8, func() error { return finish(r) }))
			acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 3, "the coupling's and the completion's two, once")
		})
	}
}

// TestFinishProgress: the result of an event stored PENDING that moves no instance (a progress
// of a coupled work item, processed after the coupling picked it up) is one statement on
// PostgreSQL too (finishTransition; on SQLite a transaction): the work item's provider status
// and revision, the activity numbered after the instance's last, the event's verdict, its
// attempt and its mark cleared, and the instance's revision and state untouched; saved again,
// or decided on a work item that has moved on, it writes nothing and answers ErrConflict.
func TestFinishProgress(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			finish := finisher(f.st, d)
			inst, wi := f.coupled(t, "env-progress")
			progress := func(w engine.WorkItem) (engine.StoredEvent, engine.EventResult) {
				ev := coupleEvent(t, f.st, coupleDocuSign, wi.ExternalID, "envelope-delivered")
				now := time.Now()
				w.ProviderStatus, w.UpdatedAt, w.LastEventAt = "delivered", now, &now
				return ev, engine.EventResult{EventID: ev.ID, Verdict: engine.VerdictProgress, Reason: "delivered", InstanceID: inst.ID,
					WorkItemID: wi.ID, WorkItem: &w, Activities: []engine.Activity{
						{Kind: engine.ActivityExternalProgress, FromState: "sign", ToState: "sign", Message: "envelope delivered", CreatedAt: now}}}
			}

			ev, r := progress(wi)
			require.NoError(t, finish(r))
			got, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, inst.Revision, got.Revision, "the instance does not move")
			require.Equal(t, inst.StateKey, got.StateKey)
			require.Equal(t, engine.StatusWaitingExternal, got.Status)
			gotWI, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, wi.Revision+1, gotWI.Revision)
			require.Equal(t, "delivered", gotWI.ProviderStatus)
			require.Equal(t, engine.WorkItemWaiting, gotWI.Status)
			require.NotNil(t, gotWI.LastEventAt)
			stored, err := f.st.GetEvent(ctx, ev.ID)
			require.NoError(t, err)
			require.Equal(t, engine.VerdictProgress, stored.Verdict)
			require.Equal(t, wi.ID, stored.WorkItemID)
			require.EqualValues(t, 1, stored.Attempts)
			acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 2, "the coupling's, then the progress")
			require.EqualValues(t, 2, acts[1].Seq)
			require.Equal(t, "envelope delivered", acts[1].Message)
			due, err := f.st.EventsDue(ctx)
			require.NoError(t, err)
			require.Zero(t, due, "the event's mark is cleared")

			// Saved again: nothing more.
			require.ErrorIs(t, finish(r), engine.ErrConflict)
			// Decided on the work item before that progress: nothing is written.
			ev2, r2 := progress(wi)
			require.ErrorIs(t, finish(r2), engine.ErrConflict)
			stored, err = f.st.GetEvent(ctx, ev2.ID)
			require.NoError(t, err)
			require.Equal(t, engine.VerdictPending, stored.Verdict)
			require.Zero(t, stored.Attempts)
			again, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, gotWI.Revision, again.Revision)
			acts, _, err = f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 2)
			// On the work item as it is now: written, numbered after.
			_, r3 := progress(gotWI)
			r3.EventID = ev2.ID
			require.NoError(t, finish(r3))
			acts, _, err = f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 3)
			require.EqualValues(t, 3, acts[2].Seq)
		})
	}
}

// TestFinishVerdict: a result that writes nothing but its event's verdict (a callback its
// system did not confirm, a stale or a duplicate event: the verdict and the ids the engine
// found) is one statement, outside a transaction: the verdict, its reason and the ids saved,
// the attempt counted, the mark cleared, the work item and the instance untouched; saved again
// it answers ErrConflict and changes nothing; racing runs save it once. What writes more, or
// an ORPHANED verdict (checked against a racing coupling), keeps its transaction.
func TestFinishVerdict(t *testing.T) {
	t.Parallel()
	ignored := engine.EventResult{EventID: "e", Verdict: engine.VerdictIgnored, Reason: "unconfirmed", InstanceID: "i", WorkItemID: "w"}
	require.True(t, store.VerdictOnly(ignored))
	for _, v := range []engine.Verdict{engine.VerdictStale, engine.VerdictDuplicate} {
		r := ignored
		r.Verdict = v
		require.True(t, store.VerdictOnly(r), v)
	}
	more := map[string]func(*engine.EventResult){
		"orphaned":   func(r *engine.EventResult) { r.Verdict = engine.VerdictOrphaned },
		"work item":  func(r *engine.EventResult) { r.WorkItem = &engine.WorkItem{} },
		"instance":   func(r *engine.EventResult) { r.Instance = &engine.Instance{} },
		"activity":   func(r *engine.EventResult) { r.Activities = []engine.Activity{{Kind: engine.ActivityOutcome}} },
		"job":        func(r *engine.EventResult) { r.Effects.Jobs = []engine.Job{engine.FetchDocumentJob{WorkItemID: "w"}} },
		"work items": func(r *engine.EventResult) { r.Effects.NewWorkItems = []engine.WorkItem{{}} },
	}
	for name, add := range more {
		r := ignored
		add(&r)
		require.False(t, store.VerdictOnly(r), name)
	}

	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.coupled(t, "env-unconfirmed")
			dueBefore, err := f.st.EventsDue(ctx)
			require.NoError(t, err)
			ev := coupleEvent(t, f.st, coupleDocuSign, wi.ExternalID, "envelope-completed")
			due, err := f.st.EventsDue(ctx)
			require.NoError(t, err)
			require.Equal(t, dueBefore+1, due, "stored PENDING, marked due")
			r := engine.EventResult{EventID: ev.ID, Verdict: engine.VerdictIgnored, Reason: "the provider reports sent",
				InstanceID: inst.ID, WorkItemID: wi.ID}
			// A verdict the store does not know is refused, as ent refuses it, and changes nothing.
			bad := r
			bad.Verdict = "MAYBE"
			err = f.st.FinishEvent(ctx, bad)
			require.Error(t, err)
			require.NotErrorIs(t, err, engine.ErrConflict)
			pending, err := f.st.GetEvent(ctx, ev.ID)
			require.NoError(t, err)
			require.Equal(t, engine.VerdictPending, pending.Verdict)
			require.Zero(t, pending.Attempts)

			require.NoError(t, f.st.FinishEvent(ctx, r))
			requireVerdict(t, f.st, ev.ID, engine.VerdictIgnored, "the provider reports sent", inst.ID, wi.ID)
			due, err = f.st.EventsDue(ctx)
			require.NoError(t, err)
			require.Equal(t, dueBefore, due, "the event's mark is cleared")
			requireUntouched(t, f.st, inst, wi)

			// Saved again, or as another verdict: nothing changes.
			require.ErrorIs(t, f.st.FinishEvent(ctx, r), engine.ErrConflict)
			r2 := r
			r2.Verdict, r2.Reason = engine.VerdictStale, "later"
			require.ErrorIs(t, f.st.FinishEvent(ctx, r2), engine.ErrConflict)
			again, err := f.st.GetEvent(ctx, ev.ID)
			require.NoError(t, err)
			require.Equal(t, engine.VerdictIgnored, again.Verdict)
			require.Equal(t, "the provider reports sent", again.Reason)
			require.EqualValues(t, 1, again.Attempts)

			// Racing runs of one event's processing: saved once.
			ev = coupleEvent(t, f.st, coupleDocuSign, wi.ExternalID, "envelope-completed")
			r.EventID = ev.ID
			require.EqualValues(t, 1, racingSaves(t, 8, func() error { return f.st.FinishEvent(ctx, r) }))
			requireVerdict(t, f.st, ev.ID, engine.VerdictIgnored, "the provider reports sent", inst.ID, wi.ID)
		})
	}
}

// TestVerdictCommitsLazily: a verdict alone commits without waiting for its WAL's flush
// (verdictSQL sets synchronous_commit off for its own transaction), and the setting ends with
// that transaction: the connection's next statement, on the same session, commits as
// configured. A verdict lost to a crash of PostgreSQL leaves its event PENDING and due, as it
// was stored (the sweep's case: TestFinishVerdict and the worker's tests).
func TestVerdictCommitsLazily(t *testing.T) {
	t.Parallel()
	f := newInstanceFixture(t, store.Postgres)
	ctx := context.Background()
	inst, wi := f.coupled(t, "env-lazy")
	ev := coupleEvent(t, f.st, coupleDocuSign, wi.ExternalID, "envelope-completed")

	// One session, so that what the statement set is seen by the next one if it leaked.
	cfg := store.PoolOf(f.st).Config()
	cfg.MinConns, cfg.MaxConns = 1, 1
	one, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(one.Close)
	var before string
	require.NoError(t, one.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&before))
	require.NotEqual(t, "off", before, "the test database commits durably")

	var id uuid.UUID
	var during string
	require.NoError(t, one.QueryRow(ctx, store.VerdictSQL, uuid.MustParse(ev.ID), string(engine.VerdictIgnored), "unconfirmed",
		inst.ID, wi.ID, time.Now()).Scan(&id, &during))
	require.Equal(t, ev.ID, id.String())
	require.Equal(t, "off", during, "the verdict's transaction commits without waiting for the flush")
	var after string
	require.NoError(t, one.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&after))
	require.Equal(t, before, after, "the setting ended with the verdict's transaction")
	requireVerdict(t, f.st, ev.ID, engine.VerdictIgnored, "unconfirmed", inst.ID, wi.ID)

	// Not PENDING any more: no row, and nothing set.
	err = one.QueryRow(ctx, store.VerdictSQL, uuid.MustParse(ev.ID), string(engine.VerdictStale), "later",
		inst.ID, wi.ID, time.Now()).Scan(&id, &during)
	require.ErrorIs(t, err, pgx.ErrNoRows)
	requireVerdict(t, f.st, ev.ID, engine.VerdictIgnored, "unconfirmed", inst.ID, wi.ID)

	// A batch of verdicts (verdictsSQL) commits the same way.
	ev2 := coupleEvent(t, f.st, coupleDocuSign, wi.ExternalID, "envelope-completed")
	require.NoError(t, one.QueryRow(ctx, store.VerdictsSQL, []uuid.UUID{uuid.MustParse(ev2.ID)}, []string{string(engine.VerdictStale)},
		[]string{"batched"}, []string{inst.ID}, []string{wi.ID}, []time.Time{time.Now()}).Scan(&id, &during))
	require.Equal(t, ev2.ID, id.String())
	require.Equal(t, "off", during, "the batch's transaction commits without waiting for the flush")
	require.NoError(t, one.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&after))
	require.Equal(t, before, after, "the setting ended with the batch's transaction")
	requireVerdict(t, f.st, ev2.ID, engine.VerdictStale, "batched", inst.ID, wi.ID)
}

// TestVerdictsInOneStatement: concurrent verdicts alone are written together in one statement
// (the verdicts lane, PostgreSQL), each with its own verdict, reason and ids and its own
// condition: one whose event is no longer PENDING, or not there, is not saved; a second
// verdict of one event in the batch is left to be written alone, where it conflicts. A batch
// whose statement fails writes nothing, and each verdict is written alone: the bad one fails
// on its own, the others are saved. Through FinishEvent, many at once are each saved once and
// counted by the lane.
func TestVerdictsInOneStatement(t *testing.T) {
	t.Parallel()
	f := newInstanceFixture(t, store.Postgres)
	ctx := context.Background()
	inst, wi := f.coupled(t, "env-verdicts")
	event := func() string { return coupleEvent(t, f.st, coupleDocuSign, wi.ExternalID, "envelope-completed").ID }
	result := func(id string, v engine.Verdict, reason string) engine.EventResult {
		return engine.EventResult{EventID: id, Verdict: v, Reason: reason, InstanceID: inst.ID, WorkItemID: wi.ID}
	}
	a, b, c, done := event(), event(), event(), event()
	require.NoError(t, f.st.FinishEvent(ctx, result(done, engine.VerdictIgnored, "first")))

	written, saved := store.WriteVerdictBatch(ctx, f.st, []engine.EventResult{
		result(a, engine.VerdictIgnored, "unconfirmed"),
		result(b, engine.VerdictStale, "older than the last"),
		result(done, engine.VerdictDuplicate, "again"),
		result(a, engine.VerdictStale, "a second verdict"),
		result(c, engine.VerdictDuplicate, "seen"),
		result(uuid.NewString(), engine.VerdictIgnored, "no such event"),
	})
	require.Equal(t, []bool{true, true, true, false, true, true}, written)
	require.Equal(t, []bool{true, true, false, false, true, false}, saved)
	requireVerdict(t, f.st, a, engine.VerdictIgnored, "unconfirmed", inst.ID, wi.ID)
	requireVerdict(t, f.st, b, engine.VerdictStale, "older than the last", inst.ID, wi.ID)
	requireVerdict(t, f.st, c, engine.VerdictDuplicate, "seen", inst.ID, wi.ID)
	requireVerdict(t, f.st, done, engine.VerdictIgnored, "first", inst.ID, wi.ID)
	for _, id := range []string{a, b, c, done} {
		ev, err := f.st.GetEvent(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 1, ev.Attempts, "counted once")
	}
	// The second verdict of a, written alone, conflicts.
	require.ErrorIs(t, f.st.FinishEvent(ctx, result(a, engine.VerdictStale, "a second verdict")), engine.ErrConflict)
	requireVerdict(t, f.st, a, engine.VerdictIgnored, "unconfirmed", inst.ID, wi.ID)

	// A statement that fails (a reason PostgreSQL refuses: not UTF-8) writes nothing; alone,
	// the good verdict is saved and the bad one fails without being saved.
	good, bad := event(), event()
	written, saved = store.WriteVerdictBatch(ctx, f.st, []engine.EventResult{
		result(good, engine.VerdictIgnored, "fine"), result(bad, engine.VerdictIgnored, "\xff\xfe")})
	require.Equal(t, []bool{false, false}, written)
	require.Equal(t, []bool{false, false}, saved)
	for _, id := range []string{good, bad} {
		ev, err := f.st.GetEvent(ctx, id)
		require.NoError(t, err)
		require.Equal(t, engine.VerdictPending, ev.Verdict)
	}
	require.NoError(t, f.st.FinishEvent(ctx, result(good, engine.VerdictIgnored, "fine")))
	requireVerdict(t, f.st, good, engine.VerdictIgnored, "fine", inst.ID, wi.ID)
	err := f.st.FinishEvent(ctx, result(bad, engine.VerdictIgnored, "\xff\xfe"))
	require.Error(t, err)
	require.NotErrorIs(t, err, engine.ErrConflict)
	ev, err := f.st.GetEvent(ctx, bad)
	require.NoError(t, err)
	require.Equal(t, engine.VerdictPending, ev.Verdict)

	// Many at once through FinishEvent: each saved once, every one counted by the lane.
	const n = 32
	ids := make([]string, n)
	for i := range ids {
		ids[i] = event()
	}
	lane := func() store.LaneStats { return f.st.Lanes()[2] }
	before := lane()
	require.Equal(t, "verdicts", before.Lane)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, id := range ids {
		wg.Go(func() { errs[i] = f.st.FinishEvent(ctx, result(id, engine.VerdictIgnored, fmt.Sprint("n", i))) })
	}
	wg.Wait()
	for i, id := range ids {
		require.NoError(t, errs[i])
		requireVerdict(t, f.st, id, engine.VerdictIgnored, fmt.Sprint("n", i), inst.ID, wi.ID)
	}
	after := lane()
	require.EqualValues(t, n, after.Writes-before.Writes)
	batches := after.Batches - before.Batches
	require.True(t, batches >= 1 && batches <= n, "%d batches of %d verdicts", batches, n)
}
