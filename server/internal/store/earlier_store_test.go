package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/dbtest"
	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/store"
)

// TestEarlierPending: a PENDING event of the same system and external id that the provider sent
// earlier holds a later one back, and of two sent in the same millisecond the one received
// first (the lower id) holds back the other. A decided event, another external id, another
// system, and an event without a provider time hold nothing back.
func TestEarlierPending(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			t0 := time.Now().UTC().Truncate(time.Millisecond)
			pending := func(sys engine.System, externalID string, at time.Time) engine.StoredEvent {
				return storePending(t, st, sys, externalID, at)
			}
			earlier := func(ev engine.StoredEvent) bool {
				t.Helper()
				held, err := st.EarlierPending(ctx, ev)
				require.NoError(t, err)
				return held
			}

			first := pending(coupleOneSpan, "pkg-1", t0)
			second := pending(coupleOneSpan, "pkg-1", t0.Add(time.Second))
			require.True(t, earlier(second), "the first is still PENDING")
			require.False(t, earlier(first), "nothing was sent before the first")

			pending(coupleOneSpan, "pkg-2", t0.Add(-time.Second))
			pending(coupleDocuSign, "pkg-1", t0.Add(-time.Second))
			require.False(t, earlier(first), "another external id or system holds nothing back")

			require.NoError(t, st.FinishEvent(ctx, engine.EventResult{EventID: first.ID, Verdict: engine.VerdictIgnored, Reason: "unconfirmed"}))
			require.False(t, earlier(second), "a decided event holds nothing back")

			third := pending(coupleOneSpan, "pkg-1", t0.Add(time.Second)) // sent in the same millisecond as second
			lo, hi := second, third
			if a, b := uuid.MustParse(lo.ID), uuid.MustParse(hi.ID); bytes.Compare(b[:], a[:]) < 0 {
				lo, hi = hi, lo
			}
			require.True(t, earlier(hi), "of two sent at once, the one received first goes first")
			require.False(t, earlier(lo))

			noTime := second
			noTime.Event.OccurredAt = time.Time{}
			require.False(t, earlier(noTime), "without a provider time nothing is earlier")
			noID := engine.StoredEvent{Event: engine.InboundEvent{System: coupleOneSpan, ExternalID: "pkg-1", OccurredAt: t0.Add(time.Second)}}
			require.False(t, earlier(noID), "without an id only an earlier provider time counts")
			noID.Event.OccurredAt = t0.Add(2 * time.Second)
			require.True(t, earlier(noID))
		})
	}
}

// TestPendingSentBy: a timer's question (engine.PendingEvents) — is an event of the system and
// external id that the system sent at or before the deadline still PENDING — on both databases:
// one sent at the deadline counts, one sent after it, another external id or system, and a
// decided one do not.
func TestPendingSentBy(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			st := newStore(t, d)
			ctx := context.Background()
			deadline := time.Now().UTC().Truncate(time.Millisecond)
			pendingBy := func() bool {
				t.Helper()
				held, err := st.PendingSentBy(ctx, coupleOneSpan, "pkg-1", deadline)
				require.NoError(t, err)
				return held
			}
			require.False(t, pendingBy(), "nothing stored")
			storePending(t, st, coupleOneSpan, "pkg-1", deadline.Add(time.Millisecond))
			storePending(t, st, coupleOneSpan, "pkg-2", deadline.Add(-time.Second))
			storePending(t, st, coupleDocuSign, "pkg-1", deadline.Add(-time.Second))
			require.False(t, pendingBy(), "sent after the deadline, or another item's")
			at := storePending(t, st, coupleOneSpan, "pkg-1", deadline)
			require.True(t, pendingBy(), "sent at the deadline")
			require.NoError(t, st.FinishEvent(ctx, engine.EventResult{EventID: at.ID, Verdict: engine.VerdictApplied, Reason: "moved"}))
			require.False(t, pendingBy(), "decided")
			storePending(t, st, coupleOneSpan, "pkg-1", deadline.Add(-time.Hour))
			require.True(t, pendingBy(), "sent an hour before")
		})
	}
}

// TestWorkItemForCallback: the one query gives what WorkItemWithInstance and EarlierPending give
// apart, in each of EarlierPending's cases that concern a coupled work item, and ErrNotFound for
// an id nobody coupled.
func TestWorkItemForCallback(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			f.coupled(t, "env-callback")
			wantWI, wantInst, err := f.st.WorkItemWithInstance(ctx, coupleDocuSign, "env-callback")
			require.NoError(t, err)

			t0 := time.Now().UTC().Truncate(time.Millisecond)
			pending := func(at time.Time) engine.StoredEvent {
				return storePending(t, f.st, coupleDocuSign, "env-callback", at)
			}
			// read checks the joined read against the two reads and returns its answer.
			read := func(ev engine.StoredEvent) bool {
				t.Helper()
				gotWI, gotInst, earlier, err := f.st.WorkItemForCallback(ctx, ev)
				require.NoError(t, err)
				require.Equal(t, wantWI, gotWI)
				require.Equal(t, wantInst, gotInst)
				alone, err := f.st.EarlierPending(ctx, ev)
				require.NoError(t, err)
				require.Equal(t, alone, earlier, "the same answer as EarlierPending")
				return earlier
			}

			first, second := pending(t0), pending(t0.Add(time.Second))
			require.True(t, read(second), "the first is still PENDING")
			require.False(t, read(first), "nothing was sent before the first")

			third := pending(t0.Add(time.Second)) // sent in the same millisecond as second
			lo, hi := second, third
			if a, b := uuid.MustParse(lo.ID), uuid.MustParse(hi.ID); bytes.Compare(b[:], a[:]) < 0 {
				lo, hi = hi, lo
			}
			require.True(t, read(hi), "of two sent at once, the one received first goes first")
			require.NoError(t, f.st.FinishEvent(ctx, engine.EventResult{EventID: first.ID, Verdict: engine.VerdictIgnored, Reason: "unconfirmed"}))
			require.False(t, read(lo), "a decided event holds nothing back")

			noTime := hi
			noTime.Event.OccurredAt = time.Time{}
			require.False(t, read(noTime), "without a provider time nothing is earlier")

			for _, at := range []time.Time{t0, {}} {
				nobody := engine.StoredEvent{ID: hi.ID, Event: engine.InboundEvent{System: coupleDocuSign, ExternalID: "env-nobody", OccurredAt: at}}
				_, _, _, err = f.st.WorkItemForCallback(ctx, nobody)
				require.ErrorIs(t, err, engine.ErrNotFound)
			}
		})
	}
}

// TestCallbacksReadWithTheirWrite: a batch's callbacks that ask for it (ReadForCallback) come
// to their processing with what WorkItemForCallback reads for them, read with the batch's
// write on PostgreSQL: the work item and its instance, and whether an earlier callback waits.
// A callback whose id no work item has, one without the provider's time, one that did not ask,
// and two of one item in the same batch come without it (their processing reads). So does
// every callback on SQLite, whose batch is written notification by notification.
func TestCallbacksReadWithTheirWrite(t *testing.T) {
	t.Parallel()
	for _, d := range dbtest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			f := newInstanceFixture(t, d)
			ctx := context.Background()
			for _, ext := range []string{"pkg-read", "pkg-held", "pkg-twice", "pkg-untimed", "pkg-unasked"} {
				f.coupled(t, ext)
			}
			t0 := time.Now().UTC().Truncate(time.Millisecond)
			held := storePending(t, f.st, coupleDocuSign, "pkg-held", t0.Add(-time.Second))
			callback := func(ext string, at time.Time, asks bool) engine.StoredEvent {
				return engine.StoredEvent{Event: engine.InboundEvent{System: coupleDocuSign, Type: "PACKAGE_COMPLETE", ExternalID: ext,
					DedupeKey: uuid.NewString(), OccurredAt: at}, Body: []byte(`{}`), ReceivedAt: time.Now(),
					Verdict: engine.VerdictPending, ReadForCallback: asks}
			}
			evs := []engine.StoredEvent{
				callback("pkg-read", t0, true), callback("pkg-held", t0, true), callback("pkg-nobody", t0, true),
				callback("pkg-twice", t0, true), callback("pkg-twice", t0.Add(time.Second), true),
				callback("pkg-untimed", time.Time{}, true), callback("pkg-unasked", t0, false),
			}
			toldBefore := len(f.jobs.told())
			created, errs := store.WriteInboundBatch(f.st, evs, make([]*engine.EventResult, len(evs)))
			for i := range evs {
				require.NoError(t, errs[i])
				require.True(t, created[i])
			}
			reads := map[string]*engine.CallbackRead{}
			jobs := map[string]engine.ProcessEventJob{}
			for _, j := range f.jobs.told()[toldBefore:] {
				pj, ok := j.(engine.ProcessEventJob)
				require.True(t, ok)
				require.NotNil(t, pj.Event)
				jobs[pj.Event.Event.ExternalID+"/"+pj.Event.Event.OccurredAt.String()] = pj
				if pj.Read != nil {
					reads[pj.Event.Event.ExternalID] = pj.Read
				}
			}
			require.Len(t, jobs, len(evs), "every callback is processed")
			if d != store.Postgres {
				require.Empty(t, reads, "SQLite reads nothing with its write")
				return
			}
			require.Len(t, reads, 2, "only pkg-read and pkg-held: %v", reads)
			for _, ext := range []string{"pkg-read", "pkg-held"} {
				j := jobs[ext+"/"+t0.String()]
				wantWI, wantInst, wantEarlier, err := f.st.WorkItemForCallback(ctx, *j.Event)
				require.NoError(t, err)
				require.Equal(t, &engine.CallbackRead{WorkItem: wantWI, Instance: wantInst, Earlier: wantEarlier}, j.Read, ext)
			}
			require.False(t, reads["pkg-read"].Earlier)
			require.True(t, reads["pkg-held"].Earlier, "the callback %s stored before it still waits", held.ID)
		})
	}
}

// storePending stores a new PENDING outcome event of the system's id, sent at at.
func storePending(t *testing.T, st *store.Store, sys engine.System, externalID string, at time.Time) engine.StoredEvent {
	t.Helper()
	ev, created, err := st.InsertEvent(context.Background(), engine.StoredEvent{
		Event: engine.InboundEvent{System: sys, Type: "PACKAGE_COMPLETE", ExternalID: externalID, DedupeKey: uuid.NewString(), OccurredAt: at},
		Body:  []byte(`{}`), ReceivedAt: time.Now(), Verdict: engine.VerdictPending})
	require.NoError(t, err)
	require.True(t, created)
	return ev
}
