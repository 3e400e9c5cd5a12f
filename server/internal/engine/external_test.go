package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/flowhook/flowhook/server/internal/engine"
	"github.com/flowhook/flowhook/server/internal/provider/onespan"
)

// routeStore is memStore with the inbox as the real store keeps it: one event per system and
// dedupe key, a verdict set only from PENDING, and a result applied only when the work item
// (and the instance, when it moves) is still at the revision read — all of it or nothing.
type routeStore struct {
	*memStore
	events []engine.StoredEvent // in the order stored
	// gate, when set, is called as InsertEventApplied begins.
	gate func()
	// gets counts GetEvent's calls; callbackReads WorkItemForCallback's.
	gets, callbackReads int
	// earlier is what EarlierPending answers: an earlier callback of the item waits.
	earlier bool
}

func (s *routeStore) WorkItemByExternal(_ context.Context, sys engine.System, externalID string) (engine.WorkItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, wi := range s.items {
		if wi.System == sys && wi.ExternalID == externalID {
			return wi, nil
		}
	}
	return engine.WorkItem{}, fmt.Errorf("%w: %s work item %s", engine.ErrNotFound, sys, externalID)
}

func (s *routeStore) WorkItemWithInstance(ctx context.Context, sys engine.System, externalID string) (engine.WorkItem, engine.Instance, error) {
	return withInstance(ctx, s, sys, externalID)
}

func (s *routeStore) WorkItemForCallback(ctx context.Context, ev engine.StoredEvent) (engine.WorkItem, engine.Instance, bool, error) {
	s.mu.Lock()
	s.callbackReads++
	s.mu.Unlock()
	return forCallback(ctx, s, ev)
}

// callbackReadCount is how many times WorkItemForCallback was called.
func (s *routeStore) callbackReadCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callbackReads
}

func (s *routeStore) byKeyLocked(ev engine.StoredEvent) (engine.StoredEvent, bool) {
	for _, e := range s.events {
		if e.Event.System == ev.Event.System && e.Event.DedupeKey == ev.Event.DedupeKey {
			return e, true
		}
	}
	return engine.StoredEvent{}, false
}

func (s *routeStore) InsertEvent(_ context.Context, ev engine.StoredEvent) (engine.StoredEvent, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, dup := s.byKeyLocked(ev); dup {
		return e, false, nil
	}
	ev.ID = engine.NewIDAt(ev.ReceivedAt)
	s.events = append(s.events, kept(ev))
	if ev.Verdict == engine.VerdictPending {
		s.jobs = append(s.jobs, engine.ProcessEventJob{EventID: ev.ID})
	}
	return ev, true, nil
}

func (s *routeStore) InsertEventApplied(_ context.Context, ev engine.StoredEvent, r engine.EventResult) (engine.StoredEvent, bool, error) {
	if s.gate != nil {
		s.gate()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, dup := s.byKeyLocked(ev); dup {
		return e, false, nil
	}
	if err := s.applyResultLocked(r); err != nil {
		return engine.StoredEvent{}, false, err
	}
	now := time.Now()
	ev.ID = engine.NewIDAt(ev.ReceivedAt)
	ev.Verdict, ev.Reason, ev.InstanceID, ev.WorkItemID, ev.Attempts, ev.ProcessedAt = r.Verdict, r.Reason, r.InstanceID, r.WorkItemID, 1, &now
	s.events = append(s.events, kept(ev))
	return ev, true, nil
}

// kept is what the inbox keeps of an event: not the status and reason its payload carries
// (processing reads them from its body again).
func kept(ev engine.StoredEvent) engine.StoredEvent {
	ev.Event.Status, ev.Event.Reason, ev.FromInbox = "", "", true
	return ev
}

func (s *routeStore) GetEvent(_ context.Context, id string) (engine.StoredEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	for _, e := range s.events {
		if e.ID == id {
			return e, nil
		}
	}
	return engine.StoredEvent{}, fmt.Errorf("%w: event %s", engine.ErrNotFound, id)
}

// eventReads is how many times GetEvent was called.
func (s *routeStore) eventReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets
}

func (s *routeStore) EarlierPending(context.Context, engine.StoredEvent) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.earlier, nil
}

func (s *routeStore) FinishEvent(_ context.Context, r engine.EventResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := -1
	for j, e := range s.events {
		if e.ID == r.EventID {
			i = j
		}
	}
	if i < 0 || s.events[i].Verdict != engine.VerdictPending {
		return fmt.Errorf("%w: event %s was processed concurrently", engine.ErrConflict, r.EventID)
	}
	if err := s.applyResultLocked(r); err != nil {
		return err
	}
	now := time.Now()
	ev := &s.events[i]
	ev.Verdict, ev.Reason, ev.InstanceID, ev.WorkItemID, ev.ProcessedAt = r.Verdict, r.Reason, r.InstanceID, r.WorkItemID, &now
	ev.Attempts++
	return nil
}

// ReplayEvent saves a replay's result as the store does: only over the event as the replay
// read it (its attempts and verdict).
func (s *routeStore) ReplayEvent(_ context.Context, read engine.StoredEvent, attempts int, r engine.EventResult) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.events, func(e engine.StoredEvent) bool { return e.ID == read.ID })
	if i < 0 || s.events[i].Attempts != attempts || s.events[i].Verdict != read.Verdict {
		return fmt.Errorf("%w: event %s was processed concurrently", engine.ErrConflict, read.ID)
	}
	if r.Verdict == engine.VerdictPending {
		s.jobs = append(s.jobs, engine.ProcessEventJob{EventID: read.ID})
	} else if err := s.applyResultLocked(r); err != nil {
		return err
	}
	now := time.Now()
	ev := &s.events[i]
	if !(ev.Verdict == engine.VerdictPending && r.Verdict == engine.VerdictPending) {
		ev.Attempts++ // still undecided, it has not been decided once more
	}
	ev.Verdict, ev.Reason, ev.ProcessedAt = r.Verdict, r.Reason, &now
	if r.InstanceID != "" {
		ev.InstanceID, ev.WorkItemID = r.InstanceID, r.WorkItemID
	}
	return nil
}

// applyResultLocked checks every condition before it writes anything.
func (s *routeStore) applyResultLocked(r engine.EventResult) error {
	if w := r.WorkItem; w != nil && s.items[w.ID].Revision != w.Revision {
		return fmt.Errorf("%w: work item %s changed concurrently", engine.ErrConflict, w.ID)
	}
	if in := r.Instance; in != nil && s.instances[in.ID].Revision != r.InstanceRevision {
		return fmt.Errorf("%w: instance %s changed concurrently", engine.ErrConflict, in.ID)
	}
	if w := r.WorkItem; w != nil {
		next := *w
		next.Revision++
		s.items[w.ID] = next
	}
	if in := r.Instance; in != nil {
		next := *in
		next.Revision = r.InstanceRevision + 1
		s.instances[in.ID] = next
	}
	if r.InstanceID != "" {
		s.appendLocked(r.InstanceID, r.Activities)
	}
	return s.applyLocked(r.Effects)
}

// event returns a stored event by dedupe key.
func (s *routeStore) event(t *testing.T, key string) engine.StoredEvent {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if e.Event.DedupeKey == key {
			return e
		}
	}
	t.Fatalf("no event %q", key)
	return engine.StoredEvent{}
}

// routeProviders maps DocuSign's events as its table does: completed is FINISHED, declined
// DENIED, voided DELETED (EXPIRED when its reason says the envelope expired); anything else is
// progress.
type routeProviders struct{ *memProviders }

func (routeProviders) Outcome(_ context.Context, _ engine.System, eventType, reason string) (engine.Outcome, bool, error) {
	if eventType == "envelope-voided" && reason == "Envelope has expired." {
		return engine.OutcomeExpired, true, nil
	}
	o, ok := map[string]engine.Outcome{
		"envelope-completed": engine.OutcomeFinished,
		"envelope-declined":  engine.OutcomeDenied,
		"envelope-voided":    engine.OutcomeDeleted,
	}[eventType]
	return o, ok, nil
}

// routeBundle is an instance of flowDraft waiting in "sign" on a work item coupled to the
// envelope "env-1", and External over the fakes.
type routeBundle struct {
	*flowBundle
	inbox    *routeStore
	external *engine.External
	instance engine.Instance // as it waits, coupled
	workItem engine.WorkItem
}

const routeWindow = time.Minute

// setupRoute publishes d (flowDraft when nil) and has an instance wait in its "sign" state.
func setupRoute(t *testing.T, d *engine.Draft) *routeBundle {
	t.Helper()
	def := flowDraft()
	if d != nil {
		def = *d
	}
	require.Empty(t, engine.ValidateDraft(def, catalog), "the fixture is a valid design")
	st := newMemStore()
	st.publish(flowID, def)
	fb := &flowBundle{store: st, runner: engine.NewRunner(st, st, engine.SystemClock{})}
	inbox := &routeStore{memStore: st}
	x := engine.NewExternal(inbox, st, fb.runner, routeProviders{&memProviders{}}, engine.SystemClock{}, routeWindow)
	b := &routeBundle{flowBundle: fb, inbox: inbox, external: x}
	in := fb.start(t, "sign_now")
	wi := fb.stored(t, in.ID).WorkItem
	_, err := st.CoupleWorkItem(context.Background(), wi.ID, "env-1", engine.Activity{Kind: engine.ActivityExternalProgress,
		ToState: "sign", Message: "DOCUSIGN env-1 sent"})
	require.NoError(t, err)
	st.takeJobs()
	b.instance = fb.stored(t, in.ID)
	b.workItem = *b.instance.WorkItem
	return b
}

// deliver has the webhook router hand over a DocuSign event of the envelope.
func (b *routeBundle) deliver(t *testing.T, typ, key string, at time.Time) (engine.StoredEvent, bool) {
	t.Helper()
	ev, created, err := b.external.Receive(context.Background(), engine.StoredEvent{
		Event: engine.InboundEvent{System: engine.System{Provider: docuSign}, Type: typ, ExternalID: "env-1", DedupeKey: key,
			OccurredAt: at, Status: typ[len("envelope-"):]},
		Body: []byte(`{}`)})
	require.NoError(t, err)
	return ev, created
}

// TestOutcomeRouting: a terminal outcome resolves the work item and takes the state's
// transition for it, the state's overrides first; an outcome the designer gave no transition
// leaves the instance where it is and says so; progress moves nothing.
func TestOutcomeRouting(t *testing.T) {
	t.Parallel()
	withOverride := func(overrides map[string]engine.Outcome) *engine.Draft {
		d := flowDraft()
		for i := range d.States {
			if d.States[i].Key == "sign" {
				d.States[i].External.OutcomeOverrides = overrides
			}
		}
		return &d
	}
	tests := []struct {
		name      string
		draft     *engine.Draft
		event     string
		verdict   engine.Verdict
		reason    string
		outcome   engine.Outcome // of the work item; unspecified: still waiting
		status    engine.InstanceStatus
		state     string
		kinds     []engine.ActivityKind
		lastEntry string
		fetch     bool // the signed document is fetched
	}{
		{name: "FINISHED takes its transition", event: "envelope-completed", verdict: engine.VerdictApplied,
			reason: `took "signed" to "done"`, outcome: engine.OutcomeFinished, status: engine.StatusCompleted, state: "done",
			kinds:     []engine.ActivityKind{engine.ActivityOutcome, engine.ActivityTransition, engine.ActivityCompleted},
			lastEntry: `completed in "done"`, fetch: true},
		{name: "DENIED takes its own", event: "envelope-declined", verdict: engine.VerdictApplied,
			reason: `took "declined" to "rejected"`, outcome: engine.OutcomeDenied, status: engine.StatusCompleted, state: "rejected",
			kinds:     []engine.ActivityKind{engine.ActivityOutcome, engine.ActivityTransition, engine.ActivityCompleted},
			lastEntry: `completed in "rejected"`},
		{name: "an override gives an event without a transition one", draft: withOverride(map[string]engine.Outcome{"envelope-voided": engine.OutcomeDenied}),
			event: "envelope-voided", verdict: engine.VerdictApplied, reason: `took "declined" to "rejected"`,
			outcome: engine.OutcomeDenied, status: engine.StatusCompleted, state: "rejected",
			kinds:     []engine.ActivityKind{engine.ActivityOutcome, engine.ActivityTransition, engine.ActivityCompleted},
			lastEntry: `completed in "rejected"`},
		// The envelope was still completed: its signed document is kept, whatever the state
		// calls the outcome.
		{name: "an override wins over the system's table", draft: withOverride(map[string]engine.Outcome{"envelope-completed": engine.OutcomeDenied}),
			event: "envelope-completed", verdict: engine.VerdictApplied, reason: `took "declined" to "rejected"`,
			outcome: engine.OutcomeDenied, status: engine.StatusCompleted, state: "rejected",
			kinds:     []engine.ActivityKind{engine.ActivityOutcome, engine.ActivityTransition, engine.ActivityCompleted},
			lastEntry: `completed in "rejected"`, fetch: true},
		{name: "an outcome without a transition leaves the instance, and says so", event: "envelope-voided",
			verdict: engine.VerdictApplied, reason: "no transition for DELETED", outcome: engine.OutcomeDeleted,
			status: engine.StatusWaitingExternal, state: "sign",
			kinds:     []engine.ActivityKind{engine.ActivityOutcome, engine.ActivityOutcome},
			lastEntry: `state "sign" has no transition for DELETED; the instance stays where it is`},
		{name: "progress moves nothing", event: "envelope-delivered", verdict: engine.VerdictProgress,
			status: engine.StatusWaitingExternal, state: "sign",
			kinds:     []engine.ActivityKind{engine.ActivityExternalProgress},
			lastEntry: "DOCUSIGN reported envelope-delivered"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupRoute(t, tc.draft)
			before := b.store.activities(b.instance.ID)
			at := time.Now().Add(-time.Second)
			ev, created := b.deliver(t, tc.event, "k-1", at)
			require.True(t, created)
			require.Equal(t, tc.verdict, ev.Verdict, "applied as it arrived")
			require.Equal(t, tc.reason, ev.Reason)
			require.Equal(t, b.instance.ID, ev.InstanceID)
			require.Equal(t, b.workItem.ID, ev.WorkItemID)

			got := b.stored(t, b.instance.ID)
			require.Equal(t, tc.status, got.Status)
			require.Equal(t, tc.state, got.StateKey)
			if tc.state == "sign" {
				require.Equal(t, b.instance.Revision, got.Revision, "the instance did not move")
			} else {
				require.Equal(t, b.instance.Revision+1, got.Revision)
				require.NotNil(t, got.EndedAt)
			}
			wi := *got.WorkItem
			require.Equal(t, b.workItem.ID, wi.ID)
			require.Equal(t, tc.outcome, wi.Outcome)
			if tc.outcome.Valid() {
				require.Equal(t, engine.WorkItemResolved, wi.Status)
				require.NotNil(t, wi.ResolvedAt)
			} else {
				require.Equal(t, engine.WorkItemWaiting, wi.Status)
				require.Nil(t, wi.ResolvedAt)
			}
			require.Equal(t, tc.event[len("envelope-"):], wi.ProviderStatus)
			require.True(t, wi.LastEventAt.Equal(at), "the provider's time of the event")

			acts := b.store.activities(b.instance.ID)[len(before):]
			require.Equal(t, tc.kinds, kindsOf(acts))
			require.Equal(t, tc.lastEntry, acts[len(acts)-1].Message)
			if tc.outcome.Valid() {
				require.Equal(t, fmt.Sprintf("DOCUSIGN reported %s: outcome %s", tc.event, tc.outcome), acts[0].Message)
			}
			var want []engine.Job
			if tc.fetch {
				want = []engine.Job{engine.FetchDocumentJob{WorkItemID: wi.ID}}
			}
			require.Equal(t, want, b.store.takeJobs())
		})
	}
}

// TestOutcomeIntoAnotherState: an outcome whose transition leads into a HUMAN state assigns
// it; the work item's revision of the instance is the one it entered at.
func TestOutcomeIntoAnotherState(t *testing.T) {
	t.Parallel()
	d := flowDraft()
	d.Transitions = append(d.Transitions, engine.Transition{Key: "redo", From: "sign", To: "review", OnOutcome: engine.OutcomeExpired})
	b := setupRoute(t, &d)
	b.external = engine.NewExternal(b.inbox, b.store, b.runner, expiringProviders{routeProviders{&memProviders{}}},
		engine.SystemClock{}, routeWindow)
	ev, _ := b.deliver(t, "envelope-expired", "k-1", time.Now())
	require.Equal(t, engine.VerdictApplied, ev.Verdict)
	got := b.stored(t, b.instance.ID)
	require.Equal(t, engine.StatusActive, got.Status)
	require.Equal(t, "review", got.StateKey)
	require.Equal(t, &engine.Assignee{GroupID: "legal"}, got.Assignee)
	// The legal group may take it from there.
	_, err := b.runner.Take(context.Background(), lawyer, engine.TakeInput{InstanceID: got.ID, TransitionKey: "reject"})
	require.NoError(t, err)
}

// expiringProviders adds envelope-expired (EXPIRED) to routeProviders' table.
type expiringProviders struct{ routeProviders }

func (p expiringProviders) Outcome(ctx context.Context, s engine.System, eventType, reason string) (engine.Outcome, bool, error) {
	if eventType == "envelope-expired" {
		return engine.OutcomeExpired, true, nil
	}
	return p.routeProviders.Outcome(ctx, s, eventType, reason)
}

// TestLateEventsChangeNothing: once a terminal outcome is applied, a redelivery, the same
// outcome under another key, another outcome and progress all leave everything as it is,
// each with its verdict and reason.
func TestLateEventsChangeNothing(t *testing.T) {
	t.Parallel()
	t.Run("after the instance moved on", func(t *testing.T) {
		t.Parallel()
		b := setupRoute(t, nil)
		first, _ := b.deliver(t, "envelope-completed", "k-1", time.Now().Add(-time.Minute))
		require.Equal(t, engine.VerdictApplied, first.Verdict)
		b.store.takeJobs()
		settled := b.stored(t, b.instance.ID)
		acts := b.store.activities(b.instance.ID)

		again, created := b.deliver(t, "envelope-completed", "k-1", time.Now())
		require.False(t, created, "a redelivery is stored once")
		require.Equal(t, first.ID, again.ID)
		require.Equal(t, engine.VerdictApplied, again.Verdict)

		tests := []struct {
			event   string
			verdict engine.Verdict
			reason  string
		}{
			{"envelope-completed", engine.VerdictDuplicate, "the work item was already resolved as FINISHED"},
			{"envelope-declined", engine.VerdictStale, "the work item is RESOLVED (outcome FINISHED); terminal outcomes never change"},
			{"envelope-voided", engine.VerdictStale, "the work item is RESOLVED (outcome FINISHED); terminal outcomes never change"},
			{"envelope-delivered", engine.VerdictStale, "envelope-delivered arrived after the work item was resolved"},
		}
		for i, tc := range tests {
			ev, created := b.deliver(t, tc.event, fmt.Sprintf("late-%d", i), time.Now())
			require.True(t, created)
			require.Equal(t, tc.verdict, ev.Verdict, tc.event)
			require.Equal(t, tc.reason, ev.Reason, tc.event)
		}
		require.Equal(t, settled, b.stored(t, b.instance.ID), "nothing changed")
		require.Equal(t, acts, b.store.activities(b.instance.ID))
		require.Empty(t, b.store.takeJobs())
	})

	t.Run("after an outcome without a transition", func(t *testing.T) {
		t.Parallel()
		b := setupRoute(t, nil)
		ev, _ := b.deliver(t, "envelope-voided", "k-1", time.Now())
		require.Equal(t, engine.VerdictApplied, ev.Verdict)
		settled := b.stored(t, b.instance.ID)
		require.Equal(t, engine.StatusWaitingExternal, settled.Status)
		late, _ := b.deliver(t, "envelope-completed", "k-2", time.Now())
		require.Equal(t, engine.VerdictStale, late.Verdict)
		require.Equal(t, "the work item is RESOLVED (outcome DELETED); terminal outcomes never change", late.Reason)
		require.Equal(t, settled, b.stored(t, b.instance.ID), "the instance still waits where it stayed")
	})

	t.Run("progress older than the last event applied", func(t *testing.T) {
		t.Parallel()
		b := setupRoute(t, nil)
		now := time.Now()
		ev, _ := b.deliver(t, "envelope-delivered", "k-1", now)
		require.Equal(t, engine.VerdictProgress, ev.Verdict)
		older, _ := b.deliver(t, "envelope-sent", "k-0", now.Add(-time.Minute))
		require.Equal(t, engine.VerdictStale, older.Verdict)
		require.Equal(t, "envelope-sent is older than the last event applied", older.Reason)
		wi := b.stored(t, b.instance.ID).WorkItem
		require.Equal(t, "delivered", wi.ProviderStatus, "the newer status stays")
		require.True(t, wi.LastEventAt.Equal(now))
	})

	t.Run("after the instance was cancelled", func(t *testing.T) {
		t.Parallel()
		b := setupRoute(t, nil)
		_, err := b.runner.Cancel(context.Background(), starter, b.instance.ID, "withdrawn")
		require.NoError(t, err)
		b.store.takeJobs()
		cancelled := b.stored(t, b.instance.ID)
		ev, _ := b.deliver(t, "envelope-completed", "k-1", time.Now())
		require.Equal(t, engine.VerdictStale, ev.Verdict)
		require.Equal(t, `the instance is CANCELLED in "sign" and no longer waits on this work item`, ev.Reason)
		require.Equal(t, cancelled, b.stored(t, b.instance.ID))
		require.Empty(t, b.store.takeJobs())
	})
}

// TestProgressReadsNoInstance: once an instance's version is known, a progress event is decided
// from its work item alone; an outcome reads the instance, since it must still wait there.
func TestProgressReadsNoInstance(t *testing.T) {
	t.Parallel()
	b := setupRoute(t, nil)
	now := time.Now()
	ev, _ := b.deliver(t, "envelope-sent", "k-1", now)
	require.Equal(t, engine.VerdictProgress, ev.Verdict)
	reads := b.store.reads()
	ev, _ = b.deliver(t, "envelope-delivered", "k-2", now.Add(time.Second))
	require.Equal(t, engine.VerdictProgress, ev.Verdict)
	require.Equal(t, reads, b.store.reads(), "the version was known: the instance was not read")
	require.Equal(t, "delivered", b.stored(t, b.instance.ID).WorkItem.ProviderStatus)
	reads = b.store.reads()
	ev, _ = b.deliver(t, "envelope-completed", "k-3", now.Add(2*time.Second))
	require.Equal(t, engine.VerdictApplied, ev.Verdict)
	require.Greater(t, b.store.reads(), reads, "an outcome reads the instance")
	require.Equal(t, engine.StatusCompleted, b.stored(t, b.instance.ID).Status)
}

// TestStartedInstanceIsPinned: the runner that started an instance into an EXTERNAL state knows
// its version, and so does a creation that read it: the provider's first progress event, on a
// replica that did either, reads no instance. One that did neither reads it once.
func TestStartedInstanceIsPinned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRoute(t, nil) // started through the runner that External uses
	reads := b.store.reads()
	ev, _ := b.deliver(t, "envelope-sent", "k-1", time.Now())
	require.Equal(t, engine.VerdictProgress, ev.Verdict)
	require.Equal(t, reads, b.store.reads(), "the start pinned the version: the instance was not read")

	// Another replica: a runner of its own, which started nothing.
	other := engine.NewRunner(b.store, b.store, engine.SystemClock{})
	x := engine.NewExternal(b.inbox, b.store, other, routeProviders{&memProviders{}}, engine.SystemClock{}, routeWindow)
	receive := func(key string, at time.Time) {
		t.Helper()
		ev, _, err := x.Receive(ctx, engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: docuSign},
			Type: "envelope-delivered", ExternalID: "env-1", DedupeKey: key, OccurredAt: at, Status: "delivered"}, Body: []byte(`{}`)})
		require.NoError(t, err)
		require.Equal(t, engine.VerdictProgress, ev.Verdict)
	}
	reads = b.store.reads()
	receive("k-2", time.Now().Add(time.Second))
	require.Greater(t, b.store.reads(), reads, "not pinned here: the instance is read")
	reads = b.store.reads()
	receive("k-3", time.Now().Add(2*time.Second))
	require.Equal(t, reads, b.store.reads(), "then pinned")
}

// TestEarlyEventIsAppliedByItsJob: an event that beat the coupling is stored PENDING with its
// job, waits while the window is open, and is applied once by its job; processing it again, or
// concurrently, applies nothing more.
func TestEarlyEventIsAppliedByItsJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRoute(t, nil)
	// A second instance of the same workflow whose envelope is not coupled yet.
	in := b.start(t, "sign_now")
	wi := b.stored(t, in.ID).WorkItem
	b.store.takeJobs()
	ev, created, err := b.external.Receive(ctx, engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: docuSign},
		Type: "envelope-completed", ExternalID: "env-2", DedupeKey: "k-early"}, Body: []byte(`{}`)})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, engine.VerdictPending, ev.Verdict)
	require.Equal(t, []engine.Job{engine.ProcessEventJob{EventID: ev.ID}}, b.store.takeJobs())

	_, err = b.external.Process(ctx, ev.ID)
	require.ErrorIs(t, err, engine.ErrRetryLater, "its work item is not coupled yet, and the window is open")
	require.Equal(t, engine.VerdictPending, b.inbox.event(t, "k-early").Verdict)

	_, err = b.store.CoupleWorkItem(ctx, wi.ID, "env-2", engine.Activity{Kind: engine.ActivityExternalProgress, ToState: "sign"})
	require.NoError(t, err)
	const n = 4
	verdicts := make([]engine.Verdict, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { verdicts[i], errs[i] = b.external.Process(ctx, ev.ID) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, engine.VerdictApplied, verdicts[i], "each run reports the verdict")
	}
	got := b.stored(t, in.ID)
	require.Equal(t, engine.StatusCompleted, got.Status)
	require.Equal(t, "done", got.StateKey)
	outcomes := 0
	for _, a := range b.store.activities(in.ID) {
		if a.Kind == engine.ActivityOutcome {
			outcomes++
		}
	}
	require.Equal(t, 1, outcomes, "applied once")
	stored := b.inbox.event(t, "k-early")
	require.Equal(t, engine.VerdictApplied, stored.Verdict)
	require.Equal(t, 1, stored.Attempts)
	require.Equal(t, []engine.Job{engine.FetchDocumentJob{WorkItemID: wi.ID}}, b.store.takeJobs())
	// The first instance was never touched.
	require.Equal(t, b.instance, b.stored(t, b.instance.ID))
}

// TestCommittedEventIsProcessedAsStored: an event handed to in-process processing with its
// write's copy is not read again; without one, it is read; processed, it is applied once and
// a second run changes nothing. Its verdict is timed on the in-process path.
func TestCommittedEventIsProcessedAsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRoute(t, nil)
	in := b.start(t, "sign_now")
	wi := b.stored(t, in.ID).WorkItem
	_, err := b.store.CoupleWorkItem(ctx, wi.ID, "env-2", engine.Activity{Kind: engine.ActivityExternalProgress, ToState: "sign"})
	require.NoError(t, err)
	early := func(key, typ string) engine.StoredEvent {
		t.Helper()
		// Stored PENDING as a OneSpan callback or an event that lost a race is.
		ev, created, err := b.inbox.InsertEvent(ctx, engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: docuSign},
			Type: typ, ExternalID: "env-2", DedupeKey: key}, Body: []byte(`{}`), ReceivedAt: time.Now(), Verdict: engine.VerdictPending})
		require.NoError(t, err)
		require.True(t, created)
		return ev
	}
	progress := early("k-progress", "envelope-delivered")
	gets := b.inbox.eventReads()
	v, err := b.external.ProcessCommitted(ctx, engine.ProcessEventJob{EventID: progress.ID, Event: &progress})
	require.NoError(t, err)
	require.Equal(t, engine.VerdictProgress, v)
	require.Equal(t, gets, b.inbox.eventReads(), "processed as stored: not read again")

	done := early("k-done", "envelope-completed")
	v, err = b.external.ProcessCommitted(ctx, engine.ProcessEventJob{EventID: done.ID})
	require.NoError(t, err)
	require.Equal(t, engine.VerdictApplied, v)
	require.Equal(t, gets+1, b.inbox.eventReads(), "without the write's copy it is read")
	require.Equal(t, engine.StatusCompleted, b.stored(t, in.ID).Status)
	v, err = b.external.ProcessCommitted(ctx, engine.ProcessEventJob{EventID: done.ID, Event: &done})
	require.NoError(t, err)
	require.Equal(t, engine.VerdictApplied, v, "a second run finds it applied and changes nothing")
	require.Equal(t, 1, b.inbox.event(t, "k-done").Attempts)
}

// TestStoredEventIsDecidedFromItsPayload: an event processed from the inbox (by its job, after
// a coupling picked it up, or replayed) is decided from what its payload says, which the inbox
// keeps only in the body: an envelope voided because it expired is EXPIRED, not DELETED, and
// the work item shows the status reported — for a provider's notification as for one that
// reconciliation stored.
func TestStoredEventIsDecidedFromItsPayload(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	provider := `{"event":"envelope-voided","data":{"envelopeId":"env-1","envelopeSummary":{"status":"voided","voidedReason":"Envelope has expired."}}}`
	reconciled := `{"source":"reconciliation","provider":"DOCUSIGN","externalId":"env-1","status":"voided","reason":"Envelope has expired."}`
	for _, c := range []struct {
		name, body string
		headers    map[string]string
		replay     bool
		inProcess  bool // as a coupling picks it up: the row it locked, handed to the processor
	}{
		{"notification, by its job", provider, nil, false, false},
		{"notification, picked up by a coupling", provider, nil, false, true},
		{"reconciliation's, by its job", reconciled, map[string]string{engine.SourceHeader: "reconciliation"}, false, false},
		{"reconciliation's, replayed", reconciled, map[string]string{engine.SourceHeader: "reconciliation"}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := setupRoute(t, nil)
			ev, created, err := b.inbox.InsertEvent(ctx, engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: docuSign},
				Type: "envelope-voided", ExternalID: "env-1", DedupeKey: "k-voided", Status: "voided", Reason: "Envelope has expired."},
				Body: []byte(c.body), Headers: c.headers, ReceivedAt: time.Now(), Verdict: engine.VerdictPending})
			require.NoError(t, err)
			require.True(t, created)
			require.Empty(t, b.inbox.event(t, "k-voided").Event.Reason, "the inbox keeps no reason")
			switch {
			case c.replay:
				_, _, _, err = b.external.Replay(ctx, ev.ID, "u-admin")
			case c.inProcess:
				row := b.inbox.event(t, "k-voided")
				_, err = b.external.ProcessCommitted(ctx, engine.ProcessEventJob{EventID: ev.ID, Event: &row})
			default:
				_, err = b.external.Process(ctx, ev.ID)
			}
			require.NoError(t, err)
			require.Equal(t, engine.VerdictApplied, b.inbox.event(t, "k-voided").Verdict)
			wi := b.stored(t, b.instance.ID).WorkItem
			require.Equal(t, engine.OutcomeExpired, wi.Outcome, "decided from the void reason in its body")
			require.Equal(t, "voided", wi.ProviderStatus)
		})
	}
}

// TestReadBackWaitsForEarlierCallback: a callback that is not signed (OneSpan's) is read back
// from its system before it moves anything, unless an earlier callback of the same item still
// waits, known from the read that found the work item: then it stays PENDING and the system is
// not asked. Once the earlier one is decided, the read-back confirms it and it is applied.
func TestReadBackWaitsForEarlierCallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, client, x := oneSpanRoute(t)
	ev := b.callback(t, x)
	require.Equal(t, engine.VerdictPending, ev.Verdict, "stored to be read back, not decided as it arrives")

	b.inbox.mu.Lock()
	b.inbox.earlier = true
	b.inbox.mu.Unlock()
	_, err := x.ProcessCommitted(ctx, engine.ProcessEventJob{EventID: ev.ID, Event: &ev})
	require.ErrorIs(t, err, engine.ErrRetryLater)
	require.Equal(t, engine.VerdictPending, b.inbox.event(t, "cb-1").Verdict, "left PENDING")
	require.Zero(t, client.calls.Load(), "the system is not asked while an earlier callback waits")
	require.Equal(t, engine.StatusWaitingExternal, b.stored(t, b.instance.ID).Status)

	b.inbox.mu.Lock()
	b.inbox.earlier = false
	b.inbox.mu.Unlock()
	v, err := x.ProcessCommitted(ctx, engine.ProcessEventJob{EventID: ev.ID, Event: &ev})
	require.NoError(t, err)
	require.Equal(t, engine.VerdictApplied, v)
	require.Equal(t, engine.VerdictApplied, b.inbox.event(t, "cb-1").Verdict)
	require.Equal(t, int32(1), client.calls.Load(), "read back once")
	require.Equal(t, engine.StatusCompleted, b.stored(t, b.instance.ID).Status)
}

// readBackProviders are routeProviders whose client reads statuses back.
type readBackProviders struct {
	routeProviders
	client engine.ProviderClient
}

func (p readBackProviders) Client(context.Context, engine.System) (engine.ProviderClient, error) {
	return p.client, nil
}

// readBackClient answers Status with status and counts the calls.
// TestReadBackStartsFromItsWritesRead: a callback that is read back asks the write that
// stores it for what WorkItemForCallback reads (ReadForCallback), and its processing starts
// from that read without a read of its own. A read that says an earlier callback waited is
// not kept (that one may have finished since): the processing reads again. A read that the
// work item moved on from since (a progress event applied meanwhile) makes the write
// conflict, and the processing reads again and applies the callback once.
func TestReadBackStartsFromItsWritesRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		change   func(*engine.CallbackRead)
		reads    int   // WorkItemForCallback's calls by the processing
		readBack int32 // the system's
	}{
		{"as read", func(*engine.CallbackRead) {}, 0, 1},
		{"an earlier callback waited", func(r *engine.CallbackRead) { r.Earlier = true }, 1, 1},
		{"the work item moved on since", func(r *engine.CallbackRead) { r.WorkItem.Revision-- }, 1, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, client, x := oneSpanRoute(t)
			ev := b.callback(t, x)
			require.True(t, ev.ReadForCallback, "a callback read back asks its write for the read")
			wi, inst, earlier, err := b.inbox.WorkItemForCallback(ctx, ev)
			require.NoError(t, err)
			read := &engine.CallbackRead{WorkItem: wi, Instance: inst, Earlier: earlier}
			c.change(read)
			before := b.inbox.callbackReadCount()

			v, err := x.ProcessCommitted(ctx, engine.ProcessEventJob{EventID: ev.ID, Event: &ev, Read: read})
			require.NoError(t, err)
			require.Equal(t, engine.VerdictApplied, v)
			require.Equal(t, c.reads, b.inbox.callbackReadCount()-before)
			require.Equal(t, c.readBack, client.calls.Load())
			got := b.stored(t, b.instance.ID)
			require.Equal(t, engine.StatusCompleted, got.Status)
			require.Equal(t, b.instance.Revision+1, got.Revision, "moved once")
		})
	}

	// A DocuSign notification is signed: it is decided as it arrives, and asks for no read.
	b := setupRoute(t, nil)
	ev, created := b.deliver(t, "envelope-delivered", "k-progress", time.Now())
	require.True(t, created)
	require.False(t, ev.ReadForCallback)
}

// oneSpanRoute is setupRoute with the work item at OneSpan: x reads its callbacks back from
// client, which says the package is COMPLETED.
func oneSpanRoute(t *testing.T) (*routeBundle, *readBackClient, *engine.External) {
	t.Helper()
	d := flowDraft()
	for i := range d.States {
		if d.States[i].Key == "sign" {
			d.States[i].External.Provider = "ONESPAN"
		}
	}
	b := setupRoute(t, &d)
	require.Equal(t, engine.System{Provider: "ONESPAN"}, b.workItem.System)
	client := &readBackClient{status: engine.ExternalStatus{Status: "COMPLETED", Outcome: engine.OutcomeFinished}}
	x := engine.NewExternal(b.inbox, b.store, b.runner, readBackProviders{routeProviders{&memProviders{}}, client}, engine.SystemClock{}, routeWindow)
	return b, client, x
}

// callback has x receive a OneSpan callback that the package completed, as new.
func (b *routeBundle) callback(t *testing.T, x *engine.External) engine.StoredEvent {
	t.Helper()
	ev, created, err := x.Receive(context.Background(), engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: "ONESPAN"},
		Type: "envelope-completed", ExternalID: "env-1", DedupeKey: "cb-1", OccurredAt: time.Now()}, Body: []byte(`{}`)})
	require.NoError(t, err)
	require.True(t, created)
	return ev
}

// oneSpanTable maps OneSpan's events as its provider does.
type oneSpanTable struct{ readBackProviders }

func (oneSpanTable) Outcome(_ context.Context, _ engine.System, eventType, reason string) (engine.Outcome, bool, error) {
	o, ok := onespan.DefaultOutcome(eventType, reason)
	return o, ok, nil
}

// TestReadBackConfirmsTheEventNotItsOverride: a state may map a OneSpan event to another
// outcome than OneSpan's table (PACKAGE_DECLINE to EXPIRED). Reading the package back confirms
// the event — a DECLINED package is what PACKAGE_DECLINE reports — and the state's outcome is
// applied; a package whose status does not end the way the event says confirms nothing.
func TestReadBackConfirmsTheEventNotItsOverride(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		status  engine.ExternalStatus
		verdict engine.Verdict
		state   string
	}{
		{"declined", engine.ExternalStatus{Status: "DECLINED", Outcome: engine.OutcomeDenied}, engine.VerdictApplied, "lapsed"},
		{"still sent", engine.ExternalStatus{Status: "SENT"}, engine.VerdictIgnored, "sign"},
		{"expired", engine.ExternalStatus{Status: "EXPIRED", Outcome: engine.OutcomeExpired}, engine.VerdictIgnored, "sign"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := flowDraft()
			for i := range d.States {
				if d.States[i].Key == "sign" {
					d.States[i].External.Provider = "ONESPAN"
					d.States[i].External.OutcomeOverrides = map[string]engine.Outcome{"PACKAGE_DECLINE": engine.OutcomeExpired}
				}
			}
			d.States = append(d.States, engine.State{Key: "lapsed", Kind: engine.StateKindEnd})
			d.Transitions = append(d.Transitions, engine.Transition{Key: "expire", From: "sign", To: "lapsed", OnOutcome: engine.OutcomeExpired})
			b := setupRoute(t, &d)
			client := &readBackClient{status: c.status}
			x := engine.NewExternal(b.inbox, b.store, b.runner, oneSpanTable{readBackProviders{routeProviders{&memProviders{}}, client}}, engine.SystemClock{}, routeWindow)
			ev, created, err := x.Receive(ctx, engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: "ONESPAN"},
				Type: "PACKAGE_DECLINE", ExternalID: "env-1", DedupeKey: "cb-decline", OccurredAt: time.Now()}, Body: []byte(`{}`)})
			require.NoError(t, err)
			require.True(t, created)
			require.Equal(t, engine.VerdictPending, ev.Verdict)

			v, err := x.ProcessCommitted(ctx, engine.ProcessEventJob{EventID: ev.ID, Event: &ev})
			require.NoError(t, err)
			require.Equal(t, c.verdict, v)
			require.Equal(t, int32(1), client.calls.Load(), "read back once")
			got := b.stored(t, b.instance.ID)
			require.Equal(t, c.state, got.StateKey)
			if c.verdict == engine.VerdictApplied {
				require.Equal(t, engine.StatusCompleted, got.Status)
				require.Equal(t, engine.OutcomeExpired, got.WorkItem.Outcome, "the state's outcome, not OneSpan's")
			} else {
				require.Equal(t, engine.StatusWaitingExternal, got.Status)
				require.Contains(t, b.inbox.event(t, "cb-decline").Reason, "disagrees with PACKAGE_DECLINE")
			}
		})
	}
}

type readBackClient struct {
	engine.ProviderClient
	status engine.ExternalStatus
	calls  atomic.Int32
	fail   atomic.Pointer[error] // when set, Status fails with it
}

func (c *readBackClient) Status(context.Context, string) (engine.ExternalStatus, error) {
	c.calls.Add(1)
	if err := c.fail.Load(); err != nil {
		return engine.ExternalStatus{}, *err
	}
	return c.status, nil
}

// TestGiveUpFreesTheWorkItem: a callback whose package cannot be read back fails its job's
// attempts; on the last one the job gives it up — IGNORED, saying why and what happens next —
// so that it no longer holds its work item's later notifications (which wait while an earlier
// one is PENDING: left PENDING, it held them for ever), and the next callback is confirmed and
// applied. An event decided meanwhile stays as it is.
func TestGiveUpFreesTheWorkItem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, client, x := oneSpanRoute(t)
	refused := error(&engine.ProviderError{HTTPStatus: 401, Message: "Invalid API key."})
	client.fail.Store(&refused)
	ev := b.callback(t, x)
	_, err := x.Process(ctx, ev.ID)
	var rb *engine.ReadBackError
	require.ErrorAs(t, err, &rb, "the job fails, to be retried")

	require.Equal(t, engine.VerdictPending, b.inbox.event(t, "cb-1").Verdict)

	require.NoError(t, x.GiveUp(ctx, ev.ID, engine.ProcessEventAttempts, err))
	given := b.inbox.event(t, "cb-1")
	require.Equal(t, engine.VerdictIgnored, given.Verdict)
	require.Contains(t, given.Reason, "not processed after 12 attempts (ONESPAN env-1 could not be read back to confirm the notification: ")
	require.Contains(t, given.Reason, "Invalid API key.")
	require.Contains(t, given.Reason, "reconciliation asks the system again")
	// No longer PENDING, it holds nothing (EarlierPending reads PENDING events): the next
	// callback is confirmed and applied.
	client.fail.Store(nil)
	later, created, err := x.Receive(ctx, engine.StoredEvent{Event: engine.InboundEvent{System: engine.System{Provider: "ONESPAN"},
		Type: "envelope-completed", ExternalID: "env-1", DedupeKey: "cb-2", OccurredAt: time.Now()}, Body: []byte(`{}`)})
	require.NoError(t, err)
	require.True(t, created)
	v, err := x.Process(ctx, later.ID)
	require.NoError(t, err)
	require.Equal(t, engine.VerdictApplied, v)
	require.Equal(t, engine.StatusCompleted, b.stored(t, b.instance.ID).Status)

	require.NoError(t, x.GiveUp(ctx, later.ID, engine.ProcessEventAttempts, refused), "decided meanwhile: left alone")
	require.Equal(t, engine.VerdictApplied, b.inbox.event(t, "cb-2").Verdict)
}

// TestFinishedFetchesOnlyKeptDocuments: finishing a DocuSign envelope enqueues the download of
// its signed document; finishing a connector's ticket, which keeps none, enqueues nothing.
func TestFinishedFetchesOnlyKeptDocuments(t *testing.T) {
	t.Parallel()
	tickets := engine.System{Provider: engine.Provider("CONNECTOR"), Connector: "tickets"}
	d := flowDraft()
	for i := range d.States {
		if d.States[i].Key == "sign" {
			d.States[i].External = &engine.ExternalStep{Provider: tickets.Provider, Connector: tickets.Connector, DocumentTitle: "Ticket"}
		}
	}
	b := setupRoute(t, &d)
	require.Equal(t, tickets, b.workItem.System)
	ev, created, err := b.external.Receive(context.Background(), engine.StoredEvent{
		Event: engine.InboundEvent{System: tickets, Type: "envelope-completed", ExternalID: "env-1", DedupeKey: "t-1",
			OccurredAt: time.Now(), Status: "resolved"},
		Body: []byte(`{}`)})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, engine.VerdictApplied, ev.Verdict)
	require.Equal(t, engine.StatusCompleted, b.stored(t, b.instance.ID).Status)
	require.Empty(t, b.store.takeJobs(), "a ticket has no document to fetch")

	docs := setupRoute(t, nil)
	ev, _ = docs.deliver(t, "envelope-completed", "d-1", time.Now())
	require.Equal(t, engine.VerdictApplied, ev.Verdict)
	require.Equal(t, []engine.Job{engine.FetchDocumentJob{WorkItemID: docs.workItem.ID}}, docs.store.takeJobs())
}

// TestNotificationsOfOneItemTakeTurns: a notification that arrives while another of the same
// envelope is being decided waits for it, then decides on what it wrote: both are applied as
// they arrive, neither loses to the other and is left PENDING for a job. A notification of
// another envelope does not wait.
func TestNotificationsOfOneItemTakeTurns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setupRoute(t, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	b.inbox.gate = func() {
		once.Do(func() {
			close(entered)
			<-release
		})
	}
	waiting := make(chan string, 1)
	engine.OnItemWait(b.external, func(key string) { waiting <- key })

	type got struct {
		ev      engine.StoredEvent
		created bool
		err     error
	}
	receive := func(typ, id, key string) <-chan got {
		ch := make(chan got, 1)
		go func() {
			ev, created, err := b.external.Receive(ctx, engine.StoredEvent{
				Event: engine.InboundEvent{System: engine.System{Provider: docuSign}, Type: typ, ExternalID: id, DedupeKey: key,
					OccurredAt: time.Now(), Status: typ[len("envelope-"):]},
				Body: []byte(`{}`)})
			ch <- got{ev, created, err}
		}()
		return ch
	}
	first := receive("envelope-sent", "env-1", "k-1")
	<-entered // the first has read and decided, and is saving
	second := receive("envelope-delivered", "env-1", "k-2")
	require.Equal(t, "DOCUSIGN\x00env-1", <-waiting, "the second waits for the first")

	other := <-receive("envelope-sent", "env-9", "k-9")
	require.NoError(t, other.err, "another envelope's notification does not wait")
	require.Equal(t, engine.VerdictPending, other.ev.Verdict, "env-9 is coupled to nothing yet")

	close(release)
	for i, ch := range []<-chan got{first, second} {
		r := <-ch
		require.NoError(t, r.err)
		require.True(t, r.created)
		require.Equal(t, engine.VerdictProgress, r.ev.Verdict, "notification %d was applied as it arrived", i+1)
	}
	wi := *b.stored(t, b.instance.ID).WorkItem
	require.Equal(t, "delivered", wi.ProviderStatus, "the second was decided on what the first wrote")
	require.Equal(t, b.workItem.Revision+2, wi.Revision)
	require.Equal(t, []engine.Job{engine.ProcessEventJob{EventID: other.ev.ID}}, b.store.takeJobs(), "only env-9's event waits for a job")
}
