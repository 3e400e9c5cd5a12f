package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// sameJobs compares job lists, an empty one equal to none.
func sameJobs(t *testing.T, want, got []engine.Job, msg string) {
	t.Helper()
	if len(want) == 0 {
		require.Empty(t, got, msg)
		return
	}
	require.Equal(t, want, got, msg)
}

// completion is the result of a completion of the envelope of inst, as read: it finishes the
// work item and ends the instance.
func completion(inst engine.Instance, wi engine.WorkItem, key string, jobs ...engine.Job) (engine.StoredEvent, engine.EventResult) {
	now := time.Now()
	ev := engine.StoredEvent{Event: engine.InboundEvent{System: coupleDocuSign, Type: "envelope-completed",
		ExternalID: wi.ExternalID, DedupeKey: key, OccurredAt: now.Add(-time.Second)}, Body: []byte(`{"status":"completed"}`),
		Headers: map[string]string{"X-DocuSign-AccountId": "acc-1"}, RemoteAddr: "127.0.0.1:4711", ReceivedAt: now, Size: 22}
	w := wi
	w.Status, w.ProviderStatus, w.Outcome, w.UpdatedAt, w.ResolvedAt, w.LastEventAt = engine.WorkItemResolved, "completed",
		engine.OutcomeFinished, now, &now, &now
	moved := inst
	moved.StateKey, moved.Status, moved.System, moved.ExternalID, moved.EndedAt, moved.UpdatedAt = "done",
		engine.StatusCompleted, engine.System{}, "", &now, now
	moved.FormData = map[string]any{"name": "Ada", "signed": true}
	return ev, engine.EventResult{Verdict: engine.VerdictApplied, Reason: "finished", InstanceID: inst.ID, WorkItemID: wi.ID,
		WorkItem: &w, Instance: &moved, InstanceRevision: inst.Revision,
		Activities: []engine.Activity{
			{Kind: engine.ActivityOutcome, FromState: "sign", ToState: "sign", Message: "envelope completed", CreatedAt: now},
			{Kind: engine.ActivityTransition, FromState: "sign", ToState: "done", TransitionKey: "finished", CreatedAt: now},
		},
		Effects: engine.Effects{Jobs: jobs}}
}

// TestInboundTransition: a notification whose result moves its instance (on PostgreSQL one
// statement, writeTransition; on SQLite statement by statement) stores the event and moves
// the work item and the instance together, numbering the activities after the instance's
// earlier ones and enqueuing the result's jobs; a redelivery writes nothing; and a result
// decided on an instance or a work item that has moved on since writes nothing at all and
// answers ErrConflict; and racing deliveries of one completion apply it once.
func TestInboundTransition(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			completed := completion
			// write is the store's write; on PostgreSQL, its one statement without the
			// statement-by-statement fallback, so that a statement that fails fails the test.
			write := func(ev engine.StoredEvent, r engine.EventResult) (bool, error) {
				if d == store.Postgres {
					return store.WriteTransition(f.st, ev, r)
				}
				_, created, err := f.st.InsertEventApplied(ctx, ev, r)
				return created, err
			}

			// No job; a job River inserts (in a transaction with the statement); the document's
			// fetch, which is a mark on the work item, written by the statement itself.
			for _, kind := range []string{"", "river", "document"} {
				inst, wi := f.coupled(t, "env-"+engine.NewIDAt(time.Now()))
				jobsBefore, toldBefore := len(f.jobs.all()), len(f.jobs.told())
				dueBefore, err := f.st.DocumentsDue(ctx)
				require.NoError(t, err)
				var jobs, river []engine.Job
				switch kind {
				case "river":
					jobs = []engine.Job{engine.CancelWorkItemJob{WorkItemID: wi.ID, Reason: "test"}}
					river = jobs
				case "document":
					jobs = []engine.Job{engine.FetchDocumentJob{WorkItemID: wi.ID}}
				}
				ev, r := completed(inst, wi, "k-"+wi.ID, jobs...)
				created, err := write(ev, r)
				require.NoError(t, err)
				require.True(t, created)
				saved, _, err := f.st.InsertEventApplied(ctx, ev, r) // a redelivery: returns what is stored
				require.NoError(t, err)
				require.Equal(t, engine.VerdictApplied, saved.Verdict)

				got, err := f.st.GetInstance(ctx, inst.ID)
				require.NoError(t, err)
				require.Equal(t, inst.Revision+1, got.Revision)
				require.Equal(t, "done", got.StateKey)
				require.Equal(t, engine.StatusCompleted, got.Status)
				require.NotNil(t, got.EndedAt)
				require.Equal(t, wi.ExternalID, got.ExternalID, "an ended instance keeps the id of its last external step")
				require.Equal(t, map[string]any{"name": "Ada", "signed": true}, got.FormData)
				gotWI, err := f.st.GetWorkItem(ctx, wi.ID)
				require.NoError(t, err)
				require.Equal(t, wi.Revision+1, gotWI.Revision)
				require.Equal(t, engine.WorkItemResolved, gotWI.Status)
				require.Equal(t, engine.OutcomeFinished, gotWI.Outcome)
				require.NotNil(t, gotWI.ResolvedAt)
				stored, err := f.st.GetEvent(ctx, saved.ID)
				require.NoError(t, err)
				require.Equal(t, engine.VerdictApplied, stored.Verdict)
				require.Equal(t, "finished", stored.Reason)
				require.Equal(t, inst.ID, stored.InstanceID)
				require.Equal(t, wi.ID, stored.WorkItemID)
				require.Equal(t, []byte(`{"status":"completed"}`), stored.Body)
				require.Equal(t, map[string]string{"X-DocuSign-AccountId": "acc-1"}, stored.Headers)
				require.NotNil(t, stored.ProcessedAt)
				acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Len(t, acts, 3, "the coupling's, then the result's two")
				for i, a := range acts {
					require.EqualValues(t, i+1, a.Seq)
				}
				require.Equal(t, "finished", acts[2].TransitionKey)
				sameJobs(t, river, f.jobs.all()[jobsBefore:], "the result's River jobs, enqueued with it")
				told := f.jobs.told()[toldBefore:]
				if kind == "document" && d == store.Postgres {
					// The one statement's path hands the fetcher the work item as it wrote it.
					require.Len(t, told, 1)
					fetch, ok := told[0].(engine.FetchDocumentJob)
					require.True(t, ok)
					require.NotNil(t, fetch.Item)
					require.Equal(t, wi.ID, fetch.Item.ID)
					require.Equal(t, engine.WorkItemResolved, fetch.Item.Status)
					require.Equal(t, wi.ExternalID, fetch.Item.ExternalID)
					fetch.Item = nil
					told = []engine.Job{fetch}
				}
				sameJobs(t, jobs, told, "the queue is told what committed")
				due, err := f.st.DocumentsDue(ctx)
				require.NoError(t, err)
				if kind == "document" {
					require.Equal(t, dueBefore+1, due, "the document is marked due with the transition")
				} else {
					require.Equal(t, dueBefore, due)
				}

				// A redelivery writes nothing.
				created, err = write(ev, r)
				require.NoError(t, err)
				require.False(t, created)
				again, err := f.st.GetInstance(ctx, inst.ID)
				require.NoError(t, err)
				require.Equal(t, got.Revision, again.Revision)
				acts, _, err = f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Len(t, acts, 3)
				sameJobs(t, river, f.jobs.all()[jobsBefore:], "nothing more enqueued")
				require.Len(t, f.jobs.told()[toldBefore:], len(jobs), "nothing more committed")
			}

			// The same completion delivered many times at once (a provider's retries racing,
			// or two replicas): it is applied once; every other delivery is a redelivery or a
			// conflict (its caller reads again and finds the redelivery), never an error.
			inst, wi := f.coupled(t, "env-racing")
			ev, r := completed(inst, wi, "k-racing")
			applied := racingSaves(t, 8, func() error {
				_, created, err := f.st.InsertEventApplied(ctx, ev, r)
				if err == nil && !created {
					return engine.ErrConflict // a redelivery, answered with the stored event
				}
				return err
			})
			require.EqualValues(t, 1, applied)
			got, err := f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, inst.Revision+1, got.Revision)
			acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 3, "the coupling's and the completion's two, once")

			// Decided on a reading that is no longer current: nothing is written.
			inst, wi = f.coupled(t, "env-stale")
			evs, _, err := listAll(ctx, f, engine.EventFilter{})
			require.NoError(t, err)
			staleInstance, r1 := completed(inst, wi, "k-stale-instance")
			r1.InstanceRevision = inst.Revision - 1
			staleWorkItem, r2 := completed(inst, wi, "k-stale-work-item")
			r2.WorkItem.Revision = wi.Revision - 1
			for _, c := range []struct {
				ev engine.StoredEvent
				r  engine.EventResult
			}{{staleInstance, r1}, {staleWorkItem, r2}} {
				created, err := write(c.ev, c.r)
				require.ErrorIs(t, err, engine.ErrConflict, c.ev.Event.DedupeKey)
				require.False(t, created)
			}
			got, err = f.st.GetInstance(ctx, inst.ID)
			require.NoError(t, err)
			require.Equal(t, inst.Revision, got.Revision)
			require.Equal(t, "sign", got.StateKey)
			gotWI, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, wi.Revision, gotWI.Revision)
			require.Equal(t, engine.WorkItemWaiting, gotWI.Status)
			after, _, err := listAll(ctx, f, engine.EventFilter{})
			require.NoError(t, err)
			require.Equal(t, len(evs), len(after), "neither stale event is stored")
			acts, _, err = f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 1, "the coupling's alone")
		})
	}
}

// TestCreateInstanceAlone: a start whose only effects are jobs is one statement on PostgreSQL;
// what it stores (and returns) is what the transaction, which a start with a work item to
// create still takes, stores for the same instance: every column, and the first activities;
// and a second start with the same request id is refused.
func TestCreateInstanceAlone(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			now := time.Now()
			deadline := now.Add(time.Hour)
			// create starts an instance with the effects eff gives for its id, on st.
			create := func(st *store.Store, requestID string, eff func(id string) engine.Effects) engine.Instance {
				inst := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
					StateKey: "sign", Status: engine.StatusActive, Revision: 1, StartedBy: f.userID, RequestID: requestID,
					RequestFingerprint: "v1:" + requestID, Assignee: &engine.Assignee{GroupID: "reviewers"}, Deadline: &deadline,
					FormData: map[string]any{"name": "Ada", "amount": 12.5}, CreatedAt: now, UpdatedAt: now}
				acts := []engine.Activity{
					{Kind: engine.ActivityStarted, ActorID: f.userID, ToState: "start", CreatedAt: now},
					{Kind: engine.ActivityAssigned, FromState: "start", ToState: "sign", CreatedAt: now,
						Assignee: &engine.Assignee{GroupID: "reviewers"}, Message: "assigned"},
				}
				created, err := st.CreateInstance(ctx, inst, acts, eff(inst.ID))
				require.NoError(t, err)
				got, err := f.st.GetInstance(ctx, inst.ID)
				require.NoError(t, err)
				require.Equal(t, inUTC(got), inUTC(created), "what it returns is what it stored")
				stored, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Len(t, stored, 2)
				for i, a := range stored {
					require.EqualValues(t, i+1, a.Seq)
				}
				require.Equal(t, &engine.Assignee{GroupID: "reviewers"}, stored[1].Assignee)
				return inUTC(got)
			}
			jobsBefore := len(f.jobs.all())
			alone := create(f.st, "order-alone", func(string) engine.Effects {
				return engine.Effects{Jobs: []engine.Job{engine.ProcessEventJob{EventID: "e"}}}
			})
			require.Equal(t, []engine.Job{engine.ProcessEventJob{EventID: "e"}}, f.jobs.all()[jobsBefore:])
			withItem := func(id string) engine.Effects {
				return engine.Effects{NewWorkItems: []engine.WorkItem{{ID: engine.NewIDAt(now), InstanceID: id, StateKey: "sign",
					EnteredRevision: 1, System: engine.System{Provider: "DOCUSIGN"}, Status: engine.WorkItemCreating,
					CreatedAt: now, UpdatedAt: now, Revision: 1}}}
			}
			aloneWithItem := create(f.st, "order-alone-item", withItem)
			inTx := create(store.WithTransactions(f.st), "order-tx", withItem)
			for _, in := range []*engine.Instance{&alone, &aloneWithItem, &inTx} {
				in.ID, in.RequestID, in.RequestFingerprint = "", "", ""
			}
			require.Equal(t, inTx, alone)
			require.Equal(t, inTx, aloneWithItem)
			require.Equal(t, map[string]any{"name": "Ada", "amount": 12.5}, alone.FormData)

			_, err := f.st.CreateInstance(ctx, engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1,
				WorkflowName: "Contract", StateKey: "sign", Status: engine.StatusActive, Revision: 1, StartedBy: f.userID,
				RequestID: "order-alone", FormData: map[string]any{}, CreatedAt: now, UpdatedAt: now}, nil, engine.Effects{})
			require.ErrorIs(t, err, engine.ErrDuplicateRequest)
		})
	}
}

// TestEnterExternalWorkItems: a start or an update that enters an EXTERNAL state writes its new
// work item in the instance's transaction, marked due for its creation at the provider (no
// River job), and once it commits tells the queue, with the item as written; the work item
// reads back exactly as given, the columns not given at their defaults, on both databases, and
// on PostgreSQL written by the instance's one statement as by the transaction. An update from a
// revision that is no longer current writes neither the work item nor its mark, and tells
// nothing.
// withoutInstances checks the instance each creation told carries, in order: on the one
// statement (alone), which returns it, the instance as written; in a transaction none (the
// creation reads it). It returns the jobs without it, for the rest to be compared.
func withoutInstances(t *testing.T, jobs []engine.Job, alone bool, written ...engine.Instance) []engine.Job {
	t.Helper()
	out := make([]engine.Job, len(jobs))
	for i, j := range jobs {
		c, ok := j.(engine.CreateWorkItemJob)
		require.True(t, ok, "%T", j)
		if alone {
			require.NotNil(t, c.Instance, "creation %d told with its instance", i)
			require.Equal(t, written[i], *c.Instance)
		} else {
			require.Nil(t, c.Instance)
		}
		c.Instance = nil
		out[i] = c
	}
	return out
}

func TestEnterExternalWorkItems(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		writers := []string{"as it writes"}
		if d == store.Postgres {
			writers = append(writers, "in a transaction")
		}
		for _, writer := range writers {
			t.Run(string(d)+"/"+writer, func(t *testing.T) {
				t.Parallel()
				f := newInstanceFixture(t, d)
				st := f.st
				if writer == "in a transaction" {
					st = store.WithTransactions(f.st)
				}
				ctx := context.Background()
				now := time.Now().UTC().Truncate(time.Microsecond)
				newItem := func(instanceID string, entered int64, sys engine.System, traceparent string) engine.WorkItem {
					return engine.WorkItem{ID: engine.NewIDAt(now), InstanceID: instanceID, StateKey: "sign", EnteredRevision: entered,
						System: sys, Status: engine.WorkItemCreating, Traceparent: traceparent, CreatedAt: now, UpdatedAt: now, Revision: 1}
				}
				// stored reads a work item back, its times in UTC.
				stored := func(id string) engine.WorkItem {
					wi, err := f.st.GetWorkItem(ctx, id)
					require.NoError(t, err)
					wi.CreatedAt, wi.UpdatedAt = wi.CreatedAt.UTC(), wi.UpdatedAt.UTC()
					return wi
				}

				inst := engine.Instance{ID: engine.NewIDAt(now), WorkflowID: f.workflowID, Version: 1, WorkflowName: "Contract",
					StateKey: "sign", Status: engine.StatusWaitingExternal, System: engine.System{Provider: "DOCUSIGN"}, Revision: 1,
					StartedBy: f.userID, FormData: map[string]any{"name": "Ada"}, CreatedAt: now, UpdatedAt: now}
				first := newItem(inst.ID, 1, engine.System{Provider: "DOCUSIGN"}, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				jobsBefore, toldBefore := len(f.jobs.all()), len(f.jobs.told())
				due := func() int64 {
					n, err := f.st.CreationsDue(ctx)
					require.NoError(t, err)
					return n
				}
				created, err := st.CreateInstance(ctx, inst, []engine.Activity{{Kind: engine.ActivityStarted, ActorID: f.userID, ToState: "sign", CreatedAt: now}},
					engine.Effects{NewWorkItems: []engine.WorkItem{first}, Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: first.ID}}})
				require.NoError(t, err)
				require.Equal(t, first, stored(first.ID))
				require.Empty(t, f.jobs.all()[jobsBefore:], "no River job")
				alone := d == store.Postgres && writer == "as it writes"
				require.Equal(t, []engine.Job{engine.CreateWorkItemJob{WorkItemID: first.ID, Item: &first}},
					withoutInstances(t, f.jobs.told()[toldBefore:], alone, created))
				require.EqualValues(t, 1, due(), "its creation is due")

				// The next EXTERNAL step, at a connector, entered by an update (a take, a retry of
				// the state…): the instance at revision 2 and its new work item.
				next := created
				next.Revision, next.System, next.UpdatedAt = 2, engine.System{Provider: "CONNECTOR", Connector: "tickets"}, now
				second := newItem(inst.ID, 2, next.System, "")
				moved, err := st.UpdateInstance(ctx, next, 1, []engine.Activity{{Kind: engine.ActivityTransition, FromState: "sign", ToState: "sign", CreatedAt: now}},
					engine.Effects{NewWorkItems: []engine.WorkItem{second}, Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: second.ID}}})
				require.NoError(t, err)
				require.EqualValues(t, 2, moved.Revision)
				require.Equal(t, second, stored(second.ID))
				require.Empty(t, f.jobs.all()[jobsBefore:], "no River job")
				require.Equal(t, []engine.Job{engine.CreateWorkItemJob{WorkItemID: first.ID, Item: &first}, engine.CreateWorkItemJob{WorkItemID: second.ID, Item: &second}},
					withoutInstances(t, f.jobs.told()[toldBefore:], alone, created, moved))
				require.EqualValues(t, 2, due())
				acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Len(t, acts, 2)

				// From revision 1 again: a conflict, and nothing of it is written.
				stale := newItem(inst.ID, 2, engine.System{Provider: "DOCUSIGN"}, "")
				_, err = st.UpdateInstance(ctx, next, 1, []engine.Activity{{Kind: engine.ActivityTransition, FromState: "sign", ToState: "sign", CreatedAt: now}},
					engine.Effects{NewWorkItems: []engine.WorkItem{stale}, Jobs: []engine.Job{engine.CreateWorkItemJob{WorkItemID: stale.ID}}})
				require.ErrorIs(t, err, engine.ErrConflict)
				_, err = f.st.GetWorkItem(ctx, stale.ID)
				require.ErrorIs(t, err, engine.ErrNotFound)
				require.Len(t, f.jobs.told()[toldBefore:], 2, "nothing told of the work item not written")
				require.EqualValues(t, 2, due())
				acts, _, err = f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				require.Len(t, acts, 2)
			})
		}
	}
}

// inUTC is in with its times in UTC: reads may give them in the local zone.
func inUTC(in engine.Instance) engine.Instance {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	in.CreatedAt, in.UpdatedAt = in.CreatedAt.UTC(), in.UpdatedAt.UTC()
	in.EndedAt, in.Deadline, in.FormDataErasedAt, in.DocumentsErasedAt = utc(in.EndedAt), utc(in.Deadline),
		utc(in.FormDataErasedAt), utc(in.DocumentsErasedAt)
	return in
}
