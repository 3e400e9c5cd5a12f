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
)

// TestStoreEventDedupe: an event is stored once per system and dedupe key, whatever arrives
// again and however many deliveries race; its fields read back as written.
func TestStoreEventDedupe(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			received := time.Now().UTC().Truncate(time.Millisecond)
			ev := engine.StoredEvent{
				Event: engine.InboundEvent{System: coupleDocuSign, Type: "envelope-completed", ExternalID: "env-1", DedupeKey: "k-1",
					OccurredAt: received.Add(-time.Second)},
				Body: []byte(`{"event":"envelope-completed"}`), Headers: map[string]string{"Content-Type": "application/json"},
				RemoteAddr: "192.0.2.1", ReceivedAt: received, Verdict: engine.VerdictPending,
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Size: 31,
			}
			first, created, err := f.st.InsertEvent(ctx, ev)
			require.NoError(t, err)
			require.True(t, created)
			got, err := f.st.GetEvent(ctx, first.ID)
			require.NoError(t, err)
			require.Equal(t, ev.Event.System, got.Event.System)
			require.Equal(t, ev.Event.Type, got.Event.Type)
			require.Equal(t, ev.Event.ExternalID, got.Event.ExternalID)
			require.Equal(t, ev.Event.DedupeKey, got.Event.DedupeKey)
			require.True(t, ev.Event.OccurredAt.Equal(got.Event.OccurredAt))
			require.True(t, ev.ReceivedAt.Equal(got.ReceivedAt))
			require.Equal(t, ev.Body, got.Body)
			require.Equal(t, ev.Headers, got.Headers)
			require.Equal(t, ev.RemoteAddr, got.RemoteAddr)
			require.Equal(t, engine.VerdictPending, got.Verdict)
			require.Equal(t, ev.TraceID, got.TraceID)
			require.Equal(t, ev.Traceparent, got.Traceparent)
			require.EqualValues(t, 31, got.Size)
			require.Zero(t, got.Attempts)
			require.Nil(t, got.ProcessedAt)
			require.Empty(t, f.jobs.all(), "no River job: the event is marked due")
			told := f.jobs.told()
			require.Len(t, told, 1, "the queue is told once it commits, with the event as stored")
			require.Equal(t, first.ID, told[0].(engine.ProcessEventJob).EventID)
			require.Equal(t, first, *told[0].(engine.ProcessEventJob).Event)
			due, err := f.st.EventsDue(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 1, due)

			// A redelivery, with another body even: the first is answered, nothing enqueued.
			again := ev
			again.Body, again.ReceivedAt = []byte(`{"other":true}`), time.Now()
			dup, created, err := f.st.InsertEvent(ctx, again)
			require.NoError(t, err)
			require.False(t, created)
			require.Equal(t, first.ID, dup.ID)
			require.Equal(t, ev.Body, dup.Body)
			require.Len(t, f.jobs.told(), 1)

			// The key is per system: each connector is a system of its own.
			for _, sys := range []engine.System{coupleOneSpan, {Provider: "CONNECTOR", Connector: "a"}, {Provider: "CONNECTOR", Connector: "b"}} {
				other := ev
				other.Event.System, other.ReceivedAt = sys, time.Now()
				stored, created, err := f.st.InsertEvent(ctx, other)
				require.NoError(t, err)
				require.True(t, created, sys.String())
				require.NotEqual(t, first.ID, stored.ID)
			}
			// A verdict given at arrival (unparseable) is stored, not processed.
			unparseable := ev
			unparseable.Event.DedupeKey, unparseable.Verdict, unparseable.Reason = "k-bad", engine.VerdictUnparseable, "not JSON"
			_, created, err = f.st.InsertEvent(ctx, unparseable)
			require.NoError(t, err)
			require.True(t, created)
			require.Len(t, processJobs(f.jobs.told()), 4, "each new PENDING event processed once")
			due, err = f.st.EventsDue(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 4, due, "and marked due until then")

			// Racing deliveries of one notification: one row, processed once.
			const n = 8
			ids := make([]string, n)
			news := make([]bool, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					race := ev
					race.Event.DedupeKey, race.ReceivedAt = "k-race", time.Now()
					var stored engine.StoredEvent
					stored, news[i], errs[i] = f.st.InsertEvent(ctx, race)
					ids[i] = stored.ID
				})
			}
			before := len(f.jobs.told())
			close(start)
			wg.Wait()
			winners := 0
			for i := range n {
				require.NoError(t, errs[i])
				require.Equal(t, ids[0], ids[i], "every delivery answered with the one row")
				if news[i] {
					winners++
				}
			}
			require.Equal(t, 1, winners)
			require.Len(t, f.jobs.told(), before+1)
			_, total, err := listAll(ctx, f, engine.EventFilter{ExternalID: "env-1", Provider: "DOCUSIGN"})
			require.NoError(t, err)
			require.EqualValues(t, 3, total, "k-1, k-bad and k-race")
		})
	}
}

// TestListEventsNewestFirstWithinAMillisecond: events received microseconds apart, in one
// millisecond, list newest first (ids are made from the time received, which orders them
// within its millisecond too).
func TestListEventsNewestFirstWithinAMillisecond(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			base := time.Now().UTC().Truncate(time.Millisecond).Add(-time.Minute)
			var want []string
			for i := range 20 {
				ev, created, err := f.st.InsertEvent(ctx, engine.StoredEvent{
					Event: engine.InboundEvent{System: coupleDocuSign, Type: "envelope-delivered", ExternalID: "env-1",
						DedupeKey: fmt.Sprintf("k-%d", i)},
					Body: []byte(`{}`), ReceivedAt: base.Add(time.Duration(i) * 10 * time.Microsecond), Verdict: engine.VerdictIgnored})
				require.NoError(t, err)
				require.True(t, created)
				want = append([]string{ev.ID}, want...)
			}
			got, _, err := listAll(ctx, f, engine.EventFilter{})
			require.NoError(t, err)
			ids := make([]string, len(got))
			for i, e := range got {
				ids[i] = e.ID
			}
			require.Equal(t, want, ids, "newest first")
			got, _, err = listAll(ctx, f, engine.EventFilter{Since: base.Add(50 * time.Microsecond), Until: base.Add(191 * time.Microsecond)})
			require.NoError(t, err)
			require.Len(t, got, 15, "received 50 µs to 190 µs after the first: the id range of their millisecond holds them")
		})
	}
}

func listAll(ctx context.Context, f instanceFixture, filter engine.EventFilter) ([]engine.StoredEvent, int64, error) {
	evs, _, total, err := f.st.ListEvents(ctx, filter, engine.Page{Size: 100})
	return evs, total.N, err
}

// TestInsertEventApplied: an event applied as it arrives commits with its result or not at all,
// and a redelivery applies nothing again.
func TestInsertEventApplied(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			inst, wi := f.waiting(t, "", "")
			coupled, err := f.st.CoupleWorkItem(ctx, wi.ID, "env-1", coupleAct("env-1"))
			require.NoError(t, err)
			ev := engine.StoredEvent{Event: engine.InboundEvent{System: coupleDocuSign, Type: "envelope-delivered", ExternalID: "env-1",
				DedupeKey: "k-1"}, Body: []byte(`{}`), ReceivedAt: time.Now()}
			result := func(read engine.WorkItem) engine.EventResult {
				w := read
				w.ProviderStatus, w.UpdatedAt = "delivered", time.Now()
				return engine.EventResult{Verdict: engine.VerdictProgress, InstanceID: inst.ID, WorkItemID: wi.ID, WorkItem: &w,
					Activities: []engine.Activity{{Kind: engine.ActivityExternalProgress, ToState: "sign", Message: "delivered", CreatedAt: time.Now()}}}
			}

			// Decided on a stale reading of the work item: nothing is stored.
			_, _, err = f.st.InsertEventApplied(ctx, ev, result(wi))
			require.ErrorIs(t, err, engine.ErrConflict)
			_, total, err := listAll(ctx, f, engine.EventFilter{})
			require.NoError(t, err)
			require.Zero(t, total, "the event is not stored without its result")

			saved, created, err := f.st.InsertEventApplied(ctx, ev, result(coupled.WorkItem))
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, engine.VerdictProgress, saved.Verdict)
			got, err := f.st.GetEvent(ctx, saved.ID)
			require.NoError(t, err)
			require.Equal(t, engine.VerdictProgress, got.Verdict)
			require.Equal(t, 1, got.Attempts)
			require.NotNil(t, got.ProcessedAt)
			require.Equal(t, inst.ID, got.InstanceID)
			item, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, "delivered", item.ProviderStatus)
			require.Equal(t, coupled.Revision+1, item.Revision)

			again, created, err := f.st.InsertEventApplied(ctx, ev, result(item))
			require.NoError(t, err)
			require.False(t, created)
			require.Equal(t, saved.ID, again.ID)
			unchanged, err := f.st.GetWorkItem(ctx, wi.ID)
			require.NoError(t, err)
			require.Equal(t, item.Revision, unchanged.Revision, "a redelivery applies nothing")
			acts, _, err := f.st.ListActivity(ctx, inst.ID, engine.Page{Size: 10})
			require.NoError(t, err)
			require.Len(t, acts, 2, "the coupling's and the event's")
			require.Empty(t, f.jobs.all())
		})
	}
}

// TestListEventsFilters: the Event Log's filters, newest first, the total on every page, and
// no bodies in the list.
func TestListEventsFilters(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
			at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
			instanceID := uuid.NewString()
			add := func(i int, sys engine.System, typ, ext string, v engine.Verdict) engine.StoredEvent {
				ev := engine.StoredEvent{Event: engine.InboundEvent{System: sys, Type: typ, ExternalID: ext, DedupeKey: uuid.NewString()},
					Body: []byte(`{"secret":"body"}`), ReceivedAt: at(i), Verdict: v}
				stored, created, err := f.st.InsertEvent(ctx, ev)
				require.NoError(t, err)
				require.True(t, created)
				return stored
			}
			tickets := engine.System{Provider: "CONNECTOR", Connector: "tickets"}
			e0 := add(0, coupleDocuSign, "envelope-sent", "env-1", engine.VerdictPending)
			e1 := add(1, coupleDocuSign, "envelope-completed", "env-1", engine.VerdictPending)
			require.NoError(t, f.st.FinishEvent(ctx, engine.EventResult{EventID: e1.ID, Verdict: engine.VerdictApplied, InstanceID: instanceID}))
			e2 := add(2, coupleOneSpan, "PACKAGE_COMPLETE", "pkg-1", engine.VerdictIgnored)
			e3 := add(3, tickets, "ticket.resolved", "T-1", engine.VerdictPending)
			e4 := add(4, engine.System{Provider: "CONNECTOR", Connector: "other"}, "ticket.resolved", "T-2", engine.VerdictRejected)
			e5 := add(5, coupleDocuSign, "envelope-completed", "env-2", engine.VerdictUnparseable)

			ids := func(evs ...engine.StoredEvent) []string {
				out := make([]string, len(evs))
				for i, e := range evs {
					out[i] = e.ID
				}
				return out
			}
			tests := []struct {
				name   string
				filter engine.EventFilter
				want   []string
			}{
				{"none", engine.EventFilter{}, ids(e5, e4, e3, e2, e1, e0)},
				{"provider", engine.EventFilter{Provider: "DOCUSIGN"}, ids(e5, e1, e0)},
				{"every connector", engine.EventFilter{Provider: "CONNECTOR"}, ids(e4, e3)},
				{"one connector", engine.EventFilter{Provider: "CONNECTOR", Connector: "tickets"}, ids(e3)},
				{"verdict", engine.EventFilter{Verdict: engine.VerdictPending}, ids(e3, e0)},
				{"event type", engine.EventFilter{EventType: "envelope-completed"}, ids(e5, e1)},
				{"external id", engine.EventFilter{ExternalID: "env-1"}, ids(e1, e0)},
				{"instance", engine.EventFilter{InstanceID: instanceID}, ids(e1)},
				{"received in a range", engine.EventFilter{Since: at(1), Until: at(4)}, ids(e3, e2, e1)},
				{"together", engine.EventFilter{Provider: "DOCUSIGN", EventType: "envelope-completed", Verdict: engine.VerdictApplied}, ids(e1)},
				{"no match", engine.EventFilter{Provider: "ONESPAN", Verdict: engine.VerdictPending}, ids()},
			}
			for _, tc := range tests {
				got, next, total, err := f.st.ListEvents(ctx, tc.filter, engine.Page{Size: 50})
				require.NoError(t, err, tc.name)
				require.Equal(t, tc.want, ids(got...), tc.name)
				require.Equal(t, engine.Total{N: int64(len(tc.want))}, total, tc.name)
				require.Empty(t, next, tc.name)
				for _, e := range got {
					require.Empty(t, e.Body, "lists carry no bodies")
				}
			}

			page1, next, total, err := f.st.ListEvents(ctx, engine.EventFilter{}, engine.Page{Size: 4})
			require.NoError(t, err)
			require.Equal(t, ids(e5, e4, e3, e2), ids(page1...))
			require.Equal(t, engine.Total{N: 6}, total)
			require.Equal(t, e2.ID, next)
			page2, next, total, err := f.st.ListEvents(ctx, engine.EventFilter{}, engine.Page{Size: 4, After: next})
			require.NoError(t, err)
			require.Equal(t, ids(e1, e0), ids(page2...))
			require.Equal(t, engine.Total{N: 6}, total, "counted on every page")
			require.Empty(t, next)
			_, _, _, err = f.st.ListEvents(ctx, engine.EventFilter{}, engine.Page{Size: 4, After: "x"})
			_, invalid := engine.IsValidation(err)
			require.True(t, invalid, "%v", err)
		})
	}
}
