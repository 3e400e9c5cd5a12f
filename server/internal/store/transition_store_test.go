package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

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
			// completed is the result of a completion of the envelope of inst, as read.
			completed := func(inst engine.Instance, wi engine.WorkItem, key string, jobs ...engine.Job) (engine.StoredEvent, engine.EventResult) {
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
			// write is the store's write; on PostgreSQL, its one statement without the
			// statement-by-statement fallback, so that a statement that fails fails the test.
			write := func(ev engine.StoredEvent, r engine.EventResult) (bool, error) {
				if d == store.Postgres {
					return store.WriteTransition(f.st, ev, r)
				}
				_, created, err := f.st.InsertEventApplied(ctx, ev, r)
				return created, err
			}

			for _, jobs := range [][]engine.Job{nil, {engine.FetchDocumentJob{WorkItemID: "w"}}} {
				inst, wi := f.coupled(t, "env-"+engine.NewIDAt(time.Now()))
				jobsBefore := len(f.jobs.all())
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
				require.Empty(t, got.ExternalID)
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
				require.Equal(t, jobs, f.jobs.all()[jobsBefore:], "the result's jobs, enqueued with it")

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
				require.Equal(t, jobs, f.jobs.all()[jobsBefore:])
			}

			// The same completion delivered many times at once (a provider's retries racing,
			// or two replicas): it is applied once; every other delivery is a redelivery or a
			// conflict (its caller reads again and finds the redelivery), never an error.
			inst, wi := f.coupled(t, "env-racing")
			ev, r := completed(inst, wi, "k-racing")
			const deliveries = 8
			var wg sync.WaitGroup
			var applied atomic.Int32
			start := make(chan struct{})
			for range deliveries {
				wg.Go(func() {
					<-start
					_, created, err := f.st.InsertEventApplied(ctx, ev, r)
					if err != nil && !errors.Is(err, engine.ErrConflict) {
						assert.NoError(t, err)
					}
					if created {
						applied.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			require.EqualValues(t, 1, applied.Load())
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
