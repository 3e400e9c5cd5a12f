package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// progress is a DocuSign progress notification for externalID and the result of applying it
// to the work item as read.
func progress(inst engine.Instance, read engine.WorkItem, key, status string) (engine.StoredEvent, *engine.EventResult) {
	ev := engine.StoredEvent{Event: engine.InboundEvent{System: coupleDocuSign, Type: "envelope-" + status, ExternalID: read.ExternalID,
		DedupeKey: key}, Body: []byte(`{}`), ReceivedAt: time.Now()}
	w := read
	w.ProviderStatus, w.UpdatedAt = status, time.Now()
	return ev, &engine.EventResult{Verdict: engine.VerdictProgress, InstanceID: inst.ID, WorkItemID: read.ID, WorkItem: &w,
		Activities: []engine.Activity{{Kind: engine.ActivityExternalProgress, ToState: "sign", Message: status, CreatedAt: time.Now()}}}
}

// TestGroupCommitBatch writes one batch as concurrent webhooks make it: each notification gets
// what its own transaction would have given it. One decided on a stale reading is not stored
// and the others commit; a redelivery in the batch applies nothing; an event for an unknown
// work item is stored PENDING with its job.
func TestGroupCommitBatch(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst1, wi1 := f.coupled(t, "env-1")
			inst2, wi2 := f.coupled(t, "env-2")
			early, rEarly := progress(inst2, wi2, "k-early", "sent")
			before, _, err := f.st.InsertEventApplied(ctx, early, *rEarly)
			require.NoError(t, err)
			wi2, err = f.st.GetWorkItem(ctx, wi2.ID)
			require.NoError(t, err)

			a, ra := progress(inst1, wi1, "k-a", "delivered")
			b, rb := progress(inst1, wi1, "k-b", "delivered") // read wi1 at the revision a moves on from
			c, rc := progress(inst2, wi2, before.Event.DedupeKey, "sent")
			pending := engine.StoredEvent{Event: engine.InboundEvent{System: coupleDocuSign, Type: "envelope-completed", ExternalID: "env-unknown",
				DedupeKey: "k-pending"}, Body: []byte(`{}`), ReceivedAt: time.Now(), Verdict: engine.VerdictPending}
			e, re := progress(inst2, wi2, "k-e", "delivered")
			jobsBefore, toldBefore := len(f.jobs.all()), len(f.jobs.told())

			created, errs := store.WriteInboundBatch(f.st, []engine.StoredEvent{a, b, c, pending, e},
				[]*engine.EventResult{ra, rb, rc, nil, re})
			require.NoError(t, errs[0])
			require.True(t, created[0])
			require.ErrorIs(t, errs[1], engine.ErrConflict, "b was decided on the revision a moved on from")
			require.False(t, created[1])
			require.NoError(t, errs[2])
			require.False(t, created[2], "a redelivery")
			require.NoError(t, errs[3])
			require.True(t, created[3])
			require.NoError(t, errs[4])
			require.True(t, created[4])

			keys := map[string]engine.Verdict{}
			evs, total, err := listAll(ctx, f, engine.EventFilter{})
			require.NoError(t, err)
			for _, ev := range evs {
				keys[ev.Event.DedupeKey] = ev.Verdict
			}
			require.EqualValues(t, 4, total)
			require.Equal(t, map[string]engine.Verdict{"k-early": engine.VerdictProgress, "k-a": engine.VerdictProgress,
				"k-pending": engine.VerdictPending, "k-e": engine.VerdictProgress}, keys, "b is not stored without its result")
			require.Empty(t, f.jobs.all()[jobsBefore:], "no River job: the PENDING event is marked due")
			told := f.jobs.told()[toldBefore:]
			require.Len(t, told, 1)
			require.IsType(t, engine.ProcessEventJob{}, told[0])

			got1, err := f.st.GetWorkItem(ctx, wi1.ID)
			require.NoError(t, err)
			require.Equal(t, wi1.Revision+1, got1.Revision, "a applied once, b not at all")
			got2, err := f.st.GetWorkItem(ctx, wi2.ID)
			require.NoError(t, err)
			require.Equal(t, wi2.Revision+1, got2.Revision, "e applied; the redelivery c nothing")
			for _, want := range []struct {
				inst engine.Instance
				msgs []string
			}{{inst1, []string{"DOCUSIGN env-1 sent to ada@example.com", "delivered"}},
				{inst2, []string{"DOCUSIGN env-2 sent to ada@example.com", "sent", "delivered"}}} {
				acts, _, err := f.st.ListActivity(ctx, want.inst.ID, engine.Page{Size: 10})
				require.NoError(t, err)
				var msgs []string
				for i, a := range acts {
					require.EqualValues(t, i+1, a.Seq)
					msgs = append(msgs, a.Message)
				}
				require.Equal(t, want.msgs, msgs)
			}
		})
	}
}

// TestGroupCommitStatementParts: a batch's statement has only the parts the batch needs (the
// work items' updates, the activities), and each of the four writes what its notifications
// ask, in one statement (no fallback to writing each alone).
func TestGroupCommitStatementParts(t *testing.T) {
	t.Parallel()
	f := newInstanceFixture(t, store.Postgres)
	ctx := context.Background()
	for _, shape := range []struct {
		name                 string
		workItem, activities bool
	}{{"events only", false, false}, {"work items", true, false}, {"activities", false, true}, {"both", true, true}} {
		inst, wi := f.coupled(t, "env-parts-"+strings.ReplaceAll(shape.name, " ", "-"))
		actsBefore, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 50})
		require.NoError(t, err)
		ev, r := progress(inst, wi, "k-parts-"+shape.name, "delivered")
		if !shape.workItem {
			r.WorkItem = nil
		}
		if !shape.activities {
			r.Activities = nil
		}
		pending := engine.StoredEvent{Event: engine.InboundEvent{System: coupleDocuSign, Type: "envelope-completed",
			ExternalID: "env-unknown-" + shape.name, DedupeKey: "k-pending-" + shape.name}, Body: []byte(`{}`),
			ReceivedAt: time.Now(), Verdict: engine.VerdictPending}
		created, errs, err := store.WriteRows(f.st, []engine.StoredEvent{ev, pending}, []*engine.EventResult{r, nil})
		require.NoError(t, err, shape.name)
		require.Equal(t, []bool{true, true}, created, shape.name)
		require.Equal(t, []error{nil, nil}, errs, shape.name)

		got, err := f.st.GetWorkItem(ctx, wi.ID)
		require.NoError(t, err)
		if shape.workItem {
			require.Equal(t, wi.Revision+1, got.Revision, shape.name)
			require.Equal(t, "delivered", got.ProviderStatus, shape.name)
		} else {
			require.Equal(t, wi.Revision, got.Revision, shape.name)
		}
		acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 50})
		require.NoError(t, err)
		if shape.activities {
			require.Len(t, acts, len(actsBefore)+1, shape.name)
			require.Equal(t, "delivered", acts[len(acts)-1].Message, shape.name)
			require.EqualValues(t, len(acts), acts[len(acts)-1].Seq, shape.name)
		} else {
			require.Len(t, acts, len(actsBefore), shape.name)
		}
		evs, _, err := listAll(ctx, f, engine.EventFilter{})
		require.NoError(t, err)
		stored := map[string]engine.Verdict{}
		for _, e := range evs {
			stored[e.Event.DedupeKey] = e.Verdict
		}
		require.Equal(t, engine.VerdictProgress, stored[ev.Event.DedupeKey], shape.name)
		require.Equal(t, engine.VerdictPending, stored[pending.Event.DedupeKey], shape.name)
	}
}

// TestGroupCommitFallsBack: a notification whose writes fail half-way fails the batch's
// transaction; every notification is then written on its own, so the others still commit,
// once, and only the bad one fails.
func TestGroupCommitFallsBack(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			coupled, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-1", coupleAct("env-1"))
			require.NoError(t, err)
			wi = coupled.WorkItem
			good, rGood := progress(inst, wi, "k-good", "delivered")
			// An instance that does not exist: its activities cannot be numbered, after the
			// event and the work item were written.
			bad, rBad := progress(inst, wi, "k-bad", "sent")
			rBad.WorkItem = nil
			rBad.InstanceID = uuid.NewString()

			created, errs := store.WriteInboundBatch(f.st, []engine.StoredEvent{good, bad}, []*engine.EventResult{rGood, rBad})
			require.NoError(t, errs[0])
			require.True(t, created[0])
			require.ErrorIs(t, errs[1], engine.ErrNotFound)
			require.False(t, created[1])

			evs, total, err := listAll(ctx, f, engine.EventFilter{})
			require.NoError(t, err)
			require.EqualValues(t, 1, total)
			require.Equal(t, "k-good", evs[0].Event.DedupeKey)
			got, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, wi.Revision+1, got.Revision, "applied once, though written twice")
			acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 2, "the coupling's and k-good's")
		})
	}
}

// TestGroupCommitConcurrent: many webhooks at once, through the group commit's lead hand-off,
// with every notification delivered twice: each is stored and applied exactly once, every
// caller gets its answer, each instance's activities are numbered without a gap, and the
// lane counts every write once (Store.Lanes).
func TestGroupCommitConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			const items, each = 8, 5
			insts := make([]engine.Instance, items)
			for i := range items {
				inst, wi := f.waiting(t, "", "")
				_, err := f.st.CoupleWorkItem(ctx, wi.ID, fmt.Sprintf("env-%d", i), coupleAct(fmt.Sprintf("env-%d", i)))
				require.NoError(t, err)
				insts[i] = inst
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			applied := map[string]int{}
			var writes atomic.Int64 // every InsertEventApplied: a write in the events lane
			lanes0 := f.st.Lanes()
			start := make(chan struct{})
			for i := range items {
				for n := range each {
					for range 2 { // every notification twice
						wg.Go(func() {
							<-start
							key := fmt.Sprintf("k-%d-%d", i, n)
							for {
								wi, err := f.st.WorkItemByExternal(ctx, coupleDocuSign, fmt.Sprintf("env-%d", i))
								if !assertNoError(t, err) {
									return
								}
								ev, r := progress(insts[i], wi, key, fmt.Sprintf("step-%d", n))
								writes.Add(1)
								_, created, err := f.st.InsertEventApplied(ctx, ev, *r)
								if errors.Is(err, engine.ErrConflict) {
									continue // another notification of the item won: read it again
								}
								if !assertNoError(t, err) {
									return
								}
								if created {
									mu.Lock()
									applied[key]++
									mu.Unlock()
								}
								return
							}
						})
					}
				}
			}
			close(start)
			wg.Wait()
			// The lanes' counts (flowhook_group_commit_*): every write once, in batches of one
			// or more, with the time they took; nothing went through the pipeline or the verdicts.
			lanes1 := f.st.Lanes()
			require.Equal(t, []string{"events", "statements", "verdicts"}, []string{lanes1[0].Lane, lanes1[1].Lane, lanes1[2].Lane})
			events := lanes1[0].Writes - lanes0[0].Writes
			batches := lanes1[0].Batches - lanes0[0].Batches
			require.Equal(t, writes.Load(), events)
			require.True(t, batches >= 1 && batches <= events, "%d batches of %d writes", batches, events)
			require.Greater(t, lanes1[0].Busy, lanes0[0].Busy)
			require.Equal(t, lanes0[1], lanes1[1])
			require.Equal(t, lanes0[2], lanes1[2])
			require.Len(t, applied, items*each)
			for key, n := range applied {
				require.Equal(t, 1, n, key)
			}
			_, total, err := listAll(ctx, f, engine.EventFilter{})
			require.NoError(t, err)
			require.EqualValues(t, items*each, total)
			for _, inst := range insts {
				acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 20})
				require.NoError(t, err)
				require.Len(t, acts, 1+each)
				for i, a := range acts {
					require.EqualValues(t, i+1, a.Seq)
				}
			}
		})
	}
}

// assertNoError reports err in a goroutine that must not stop the test itself.
func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

// TestGroupCommitBatchMatchesAlone: what a batch stores for a notification (on PostgreSQL, the
// whole batch in one statement) is what the same notification written alone stores: every
// column of its event, of its work item and of its activities. And a redelivery, in the same
// batch, of an event taken back for a conflict gets the conflict too (alone, it would have
// been stored and checked in its turn), so that its caller reads again.
func TestGroupCommitBatchMatchesAlone(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			received, occurred, last := time.Now().Add(-time.Second), time.Now().Add(-time.Minute), time.Now().Add(-2*time.Second)
			full := func(inst engine.Instance, wi engine.WorkItem, key string) (engine.StoredEvent, *engine.EventResult) {
				ev, r := progress(inst, wi, key, "delivered")
				ev.Headers = map[string]string{"X-DocuSign-AccountId": "acc-1"}
				ev.RemoteAddr, ev.TraceID, ev.Size = "127.0.0.1:4711", "0af7651916cd43dd8448eb211c80319c", 2
				ev.Traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
				ev.ReceivedAt, ev.Event.OccurredAt = received, occurred
				r.Reason = "envelope delivered"
				r.WorkItem.UpdatedAt, r.WorkItem.LastEventAt = received, &last
				r.Activities[0].CreatedAt = received
				r.Activities = append(r.Activities, engine.Activity{Kind: engine.ActivityExternalProgress, ActorID: "user-1",
					FromState: "draft", ToState: "sign", TransitionKey: "send", Message: "second", CreatedAt: received,
					Assignee: &engine.Assignee{UserID: "user-2", GroupID: "group-1"}})
				return ev, r
			}
			instA, wiA := f.coupled(t, "env-a")
			instB, wiB := f.coupled(t, "env-b")
			instC, wiC := f.coupled(t, "env-c")
			evA, rA := full(instA, wiA, "k-a")
			evB, rB := full(instB, wiB, "k-b")
			evC, rC := progress(instC, wiC, "k-c", "sent")

			created, errs := store.WriteInboundBatch(f.st, []engine.StoredEvent{evA, evC}, []*engine.EventResult{rA, rC})
			require.Equal(t, []bool{true, true}, created)
			require.Equal(t, []error{nil, nil}, errs)
			created, errs = store.WriteInboundBatch(f.st, []engine.StoredEvent{evB}, []*engine.EventResult{rB})
			require.Equal(t, []bool{true}, created)
			require.Equal(t, []error{nil}, errs)

			stored := map[string]engine.StoredEvent{}
			evs, _, err := listAll(ctx, f, engine.EventFilter{})
			require.NoError(t, err)
			for _, ev := range evs {
				full, err := f.st.GetEvent(ctx, ev.ID)
				require.NoError(t, err)
				stored[ev.Event.DedupeKey] = full
			}
			a, b := stored["k-a"], stored["k-b"]
			require.NotNil(t, a.ProcessedAt)
			require.NotNil(t, b.ProcessedAt)
			require.Equal(t, wiA.ID, a.WorkItemID)
			require.Equal(t, instA.ID, a.InstanceID)
			for _, ev := range []*engine.StoredEvent{&a, &b} {
				ev.ID, ev.Event.DedupeKey, ev.Event.ExternalID, ev.InstanceID, ev.WorkItemID, ev.ProcessedAt = "", "", "", "", "", nil
			}
			require.Equal(t, b, a, "the batched event as the lone one")
			require.Equal(t, engine.VerdictProgress, a.Verdict)
			require.Equal(t, map[string]string{"X-DocuSign-AccountId": "acc-1"}, a.Headers)

			gotA, err := f.st.GetWorkItem(ctx, wiA.ID)
			require.NoError(t, err)
			gotB, err := f.st.GetWorkItem(ctx, wiB.ID)
			require.NoError(t, err)
			require.Equal(t, wiA.Revision+1, gotA.Revision)
			require.NotNil(t, gotA.LastEventAt)
			for _, w := range []*engine.WorkItem{&gotA, &gotB} {
				w.ID, w.InstanceID, w.ExternalID, w.CreatedAt, w.Traceparent = "", "", "", time.Time{}, ""
			}
			require.Equal(t, gotB, gotA, "the batched work item as the lone one")

			actsA, _, err := f.st.ListActivity(ctx, instA.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			actsB, _, err := f.st.ListActivity(ctx, instB.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, actsA, 3, "the coupling's and the two of k-a")
			for _, acts := range [][]engine.Activity{actsA, actsB} {
				for i := range acts {
					require.EqualValues(t, i+1, acts[i].Seq)
					acts[i].ID, acts[i].InstanceID = "", ""
				}
			}
			require.Equal(t, actsB[1:], actsA[1:], "the batched activities as the lone ones (after the coupling's)")
			require.Equal(t, &engine.Assignee{UserID: "user-2", GroupID: "group-1"}, actsA[2].Assignee)

			// x1 and x2 were decided on the same reading of wiC; x2 is delivered twice.
			wiC, err = f.st.GetWorkItem(ctx, wiC.ID)
			require.NoError(t, err)
			x1, r1 := progress(instC, wiC, "k-x1", "delivered")
			x2, r2 := progress(instC, wiC, "k-x2", "completed")
			x2again, r2again := progress(instC, wiC, "k-x2", "completed")
			created, errs = store.WriteInboundBatch(f.st, []engine.StoredEvent{x1, x2, x2again}, []*engine.EventResult{r1, r2, r2again})
			require.Equal(t, []bool{true, false, false}, created)
			require.NoError(t, errs[0])
			require.ErrorIs(t, errs[1], engine.ErrConflict)
			require.ErrorIs(t, errs[2], engine.ErrConflict, "its first delivery was taken back")
			_, total, err := listAll(ctx, f, engine.EventFilter{})
			require.NoError(t, err)
			require.EqualValues(t, 4, total, "k-a, k-b, k-c, k-x1")
		})
	}
}
